/**
 * Routing: an app's topology (tasks → queues, static links, subscribers, periodic tasks) and the
 * EventBridge rules it implies, as plain data for the CDK stack and local mode alike.
 */
export {
  buildTopology,
  errbackCallId,
  linkCallId,
  QUEUE_DEFAULTS,
  type AppTopologyInput,
  type EventPattern,
  type InputTransformer,
  type LinkInfo,
  type PeriodicInfo,
  type QueueInfo,
  type RuleTarget,
  type SubscriberInfo,
  type TaskInfo,
  type Topology,
  type TopologyRule,
} from './topology';
export { scheduleExpressionProblem } from './schedule';
