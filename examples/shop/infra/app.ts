/** The shop's CDK app: `npm run synth`, `npx cdk deploy` (cdk.json runs this file with tsx). */
import { app } from '../src/app.js';
import { createShopCdkApp } from './shop-stack.js';

createShopCdkApp(app.topology()).app.synth();
