/** The user's CDK app: the construct from celeriac/cdk, pointed at the user's worker entry. */
import { App } from 'aws-cdk-lib';
import { CeleriacStack } from 'celeriac/cdk';
import { app } from '../src/app.js';

const cdkApp = new App();
new CeleriacStack(cdkApp, 'celeriac-consumer', { topology: app.topology(), runner: { workerEntry: 'src/worker.ts' } });
cdkApp.synth();
