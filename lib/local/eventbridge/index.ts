/**
 * Local EventBridge: the event pattern matcher and the input transformer that local mode runs in
 * place of the deployed rules and targets.
 */
export type { EventMatcher, EventPattern } from './pattern';
export { compilePattern, InvalidEventPatternError, matchesPattern, validatePattern } from './pattern';
export type {
  InputTransformer,
  RenderInputTransformerOptions,
  TransformContext,
  ValidateInputTransformerOptions,
} from './transformer';
export {
  InvalidInputTransformerError,
  MAX_INPUT_PATHS,
  MAX_INPUT_TEMPLATE_LENGTH,
  renderInputTransformer,
  validateInputTransformer,
} from './transformer';
