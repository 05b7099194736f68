/** What /health reports beyond the sidecar: warmup progress and shutdown. */
export interface Readiness {
  warmup: { state: 'idle' | 'running' | 'done'; report?: unknown };
  stopping: boolean;
}

export function newReadiness(): Readiness {
  return { warmup: { state: 'idle' }, stopping: false };
}
