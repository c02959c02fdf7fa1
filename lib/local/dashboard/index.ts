/**
 * The local dashboard (Flower for celeriac): a task feed fed by signals and the local bus, a
 * workflow graph builder, queue operations over the ports, and the HTTP server that serves the
 * page and the JSON API `celeriac` CLI commands use against a running `celeriac dev`.
 */
export { type FeedChange, TaskFeed, type TaskFeedOptions, type TaskRow } from './feed';
export {
  type EdgeKind,
  type GraphEdge,
  type GraphNode,
  MAX_GRAPH_NODES,
  type TaskStatus,
  type WorkflowGraph,
  workflowGraph,
} from './graph';
export { type Depth, type QueueDepth, type QueueRef, queueDepths, redrive } from './ops';
export {
  type Dashboard,
  type DashboardOptions,
  DEFAULT_DASHBOARD_PORT,
  type EventSource,
  PortInUseError,
  startDashboard,
  type TaskView,
} from './server';
