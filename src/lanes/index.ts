/** Lanes of supervised worker processes speaking JSON lines; see DESIGN.md, "The worker protocol". */
export * from './protocol.js';
export * from './transport.js';
export * from './rpc.js';
export * from './supervisor.js';
export * from './lane.js';
