/**
 * A workflow as a graph for the dashboard: nodes are tasks, edges go from a task to what runs
 * after it. Built from the frozen plans (which know every task before it runs, so a chain's later
 * steps show as PENDING) and, for what no plan covers, from each task's `parentId` (a canvas
 * started inside a task hangs under that task). Pure: no I/O, so it is tested on its own.
 */
import type { Plan } from '../../protocol/plan';
import type { TaskRow } from './feed';

export type EdgeKind = 'flow' | 'link' | 'errback' | 'parent';

export interface GraphNode {
  readonly id: string;
  readonly task: string;
  readonly state: string;
  /** Column (0 = runs first) and row within it, for drawing. */
  readonly layer: number;
  readonly row: number;
  readonly durationMs?: number;
  readonly error?: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** `flow`: chain step, group member → chord body; `link` / `errback`: callbacks; `parent`: started by. */
  readonly kind: EdgeKind;
}

export interface WorkflowGraph {
  readonly rootId: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  /** True when the workflow had more tasks than drawn. */
  readonly truncated: boolean;
}

/** What the graph needs to know about a task; the store or the feed provides it. */
export type TaskStatus = Pick<TaskRow, 'state'> & Partial<Pick<TaskRow, 'task' | 'durationMs' | 'error' | 'parentId'>>;

/** Graphs larger than this are cut: an SVG of thousands of nodes helps nobody. */
export const MAX_GRAPH_NODES = 400;

interface Ends {
  readonly entries: readonly string[];
  readonly exits: readonly string[];
}

/**
 * Builds the graph of workflow `rootId` from its plans and the known tasks (feed rows and stored
 * records, by id). Tasks without a status are PENDING.
 *
 * @example
 * ```ts
 * const g = workflowGraph(rootId, feed.plansFor(rootId), feed.tasksOf(rootId), statuses);
 * ```
 */
export function workflowGraph(
  rootId: string,
  plans: readonly Plan[],
  rows: readonly TaskRow[],
  statuses: ReadonlyMap<string, TaskStatus> = new Map(),
  maxNodes = MAX_GRAPH_NODES,
): WorkflowGraph {
  const names = new Map<string, string>();
  const order: string[] = [];
  const seen = new Set<string>();
  const edges: GraphEdge[] = [];
  const edgeKeys = new Set<string>();
  const addNode = (id: string, task: string) => {
    if (!names.has(id)) names.set(id, task);
    if (!seen.has(id)) {
      seen.add(id);
      order.push(id);
    }
  };
  const addEdge = (from: string, to: string, kind: EdgeKind) => {
    const key = `${from}>${to}`;
    if (from === to || edgeKeys.has(key)) return;
    edgeKeys.add(key);
    edges.push({ from, to, kind });
  };

  for (const plan of plans) {
    const walked = new Set<number>();
    const walk = (index: number): Ends => {
      const n = plan.nodes[index];
      if (n === undefined || walked.has(index)) return { entries: [], exits: [] };
      walked.add(index);
      switch (n.kind) {
        case 'task': {
          addNode(n.id, n.name);
          for (const [list, kind] of [
            [n.link, 'link'],
            [n.linkError, 'errback'],
          ] as const) {
            for (const l of list ?? []) for (const e of walk(l).entries) addEdge(n.id, e, kind);
          }
          return { entries: [n.id], exits: [n.id] };
        }
        case 'chain': {
          let first: Ends | undefined;
          let prev: Ends | undefined;
          for (const s of n.steps) {
            const w = walk(s);
            if (prev !== undefined) for (const x of prev.exits) for (const e of w.entries) addEdge(x, e, 'flow');
            first ??= w;
            prev = w;
          }
          return { entries: first?.entries ?? [], exits: prev?.exits ?? [] };
        }
        case 'group': {
          const entries: string[] = [];
          const exits: string[] = [];
          for (const m of n.members) {
            const w = walk(m);
            entries.push(...w.entries);
            exits.push(...w.exits);
          }
          return { entries, exits };
        }
        case 'chord': {
          const h = walk(n.header);
          const b = walk(n.body);
          for (const x of h.exits) for (const e of b.entries) addEdge(x, e, 'flow');
          return { entries: h.entries, exits: b.exits };
        }
      }
    };
    walk(plan.root);
  }

  for (const r of rows) addNode(r.id, r.task);
  // parentId edges only where no plan edge explains the task: a canvas started inside a task,
  // or plain calls made from a task. Inside a plan the plan's edges are the truth.
  const hasIncoming = new Set(edges.map((e) => e.to));
  for (const id of order) {
    const parent = statuses.get(id)?.parentId ?? rows.find((r) => r.id === id)?.parentId;
    if (parent && seen.has(parent) && !hasIncoming.has(id)) addEdge(parent, id, 'parent');
  }

  const truncated = order.length > maxNodes;
  const kept = new Set(order.slice(0, maxNodes));
  const keptEdges = edges.filter((e) => kept.has(e.from) && kept.has(e.to));
  const layers = layerOf([...kept], keptEdges);
  const rowsInLayer = new Map<number, number>();
  const rowById = new Map(rows.map((r) => [r.id, r]));
  const nodes: GraphNode[] = [];
  for (const id of kept) {
    const layer = layers.get(id) ?? 0;
    const row = rowsInLayer.get(layer) ?? 0;
    rowsInLayer.set(layer, row + 1);
    const st = statuses.get(id) ?? rowById.get(id);
    nodes.push({
      id,
      task: names.get(id) ?? st?.task ?? '?',
      state: st?.state ?? 'PENDING',
      layer,
      row,
      ...(st?.durationMs === undefined ? {} : { durationMs: st.durationMs }),
      ...(st?.error === undefined ? {} : { error: `${st.error.type}: ${st.error.message}` }),
    });
  }
  return { rootId, nodes, edges: keptEdges, truncated };
}

/** Longest-path layering (Kahn's order): a node sits one column right of its latest predecessor. */
function layerOf(ids: readonly string[], edges: readonly GraphEdge[]): Map<string, number> {
  const indeg = new Map(ids.map((id) => [id, 0]));
  const out = new Map<string, string[]>();
  for (const e of edges) {
    indeg.set(e.to, (indeg.get(e.to) ?? 0) + 1);
    const list = out.get(e.from);
    if (list === undefined) out.set(e.from, [e.to]);
    else list.push(e.to);
  }
  const layer = new Map<string, number>();
  const queue = ids.filter((id) => indeg.get(id) === 0);
  for (const id of queue) layer.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    for (const next of out.get(id) ?? []) {
      layer.set(next, Math.max(layer.get(next) ?? 0, (layer.get(id) ?? 0) + 1));
      const d = (indeg.get(next) ?? 0) - 1;
      indeg.set(next, d);
      if (d === 0) queue.push(next);
    }
  }
  // Plans are acyclic; anything left (a malformed parent loop) goes in column 0 rather than vanish.
  for (const id of ids) if (!layer.has(id)) layer.set(id, 0);
  return layer;
}
