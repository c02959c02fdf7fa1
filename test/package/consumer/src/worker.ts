import { createWorker } from 'celeriac';
import { app } from './app.js';

export const handler = createWorker(app);
