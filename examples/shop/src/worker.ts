/** The SQS-triggered worker Lambda: every queue's function runs this entry. */
import { createWorker } from 'celeriac';
import { app } from './app.js';

export const handler = createWorker(app);
