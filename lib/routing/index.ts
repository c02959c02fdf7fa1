/**
 * Routing: an app's topology (tasks → queues, static links, subscribers, periodic tasks) and the
 * EventBridge rules it implies, as plain data for the CDK stack and local mode alike.
 */

export { scheduleExpressionProblem } from './schedule';
export {
  type AppTopologyInput,
  buildTopology,
  type EventPattern,
  errbackCallId,
  type InputTransformer,
  type LinkInfo,
  linkCallId,
  type PeriodicInfo,
  QUEUE_DEFAULTS,
  type QueueInfo,
  type RuleTarget,
  type SubscriberInfo,
  type TaskInfo,
  type Topology,
  type TopologyRule,
} from './topology';
