import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** A refused connection that sends no request within this is closed. */
const REFUSED_IDLE_MS = 5000;

export interface ConnectionLimits {
  /** Open connections in all; past it the oldest idle one is closed to make room. */
  max: number;
  /** Open connections from one address; past it that address's oldest idle one is closed. */
  perClient: number;
}

interface Tracked {
  socket: Socket;
  client: string;
  /** Requests being answered on it: a connection with none is idle and may be closed. */
  active: number;
}

/**
 * Keeps idle connections from starving the service: thousands of sockets that send nothing (or
 * have nothing in flight) are closed oldest first as new ones arrive, so /health and new requests
 * always get in; a client whose connections are all busy gets a 429 for one more: the connection
 * is let in so its request can be answered properly (`refused`), then closed.
 */
export function limitConnections(server: Server, limits: ConnectionLimits): { open: () => number; refused: (socket: Socket) => boolean } {
  const over = new WeakSet<Socket>();
  // Insertion order is age: the first idle entry is the oldest idle connection.
  const all = new Map<Socket, Tracked>();
  const byClient = new Map<string, Set<Tracked>>();

  const oldestIdle = (pool: Iterable<Tracked>) => {
    for (const c of pool) if (c.active === 0) return c;
    return undefined;
  };
  // Answered by the app (its first request gets 429 with Connection: close); one that sends
  // nothing is closed soon.
  const refuse = (socket: Socket) => {
    over.add(socket);
    socket.setTimeout(REFUSED_IDLE_MS, () => socket.destroy());
  };

  // Forgotten at once, not on 'close' (which comes later): a burst must see the room it made.
  const forget = (c: Tracked) => {
    all.delete(c.socket);
    const mine = byClient.get(c.client);
    mine?.delete(c);
    if (mine?.size === 0) byClient.delete(c.client);
  };
  const evict = (c: Tracked) => {
    forget(c);
    c.socket.destroy();
  };

  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? 'unknown';
    const mine = byClient.get(client);
    if (mine && mine.size >= limits.perClient) {
      const idle = oldestIdle(mine);
      if (!idle) return refuse(socket);
      evict(idle);
    }
    if (all.size >= limits.max) {
      const idle = oldestIdle(all.values());
      if (!idle) return refuse(socket);
      evict(idle);
    }
    const tracked: Tracked = { socket, client, active: 0 };
    all.set(socket, tracked);
    byClient.set(client, (byClient.get(client) ?? new Set()).add(tracked));
    socket.once('close', () => forget(tracked));
  });

  server.on('request', (req, res) => {
    const tracked = all.get(req.socket);
    if (!tracked) return;
    tracked.active += 1;
    // A busy connection moves to the young end: idle ones are found first, oldest first.
    all.delete(req.socket);
    all.set(req.socket, tracked);
    res.once('close', () => void (tracked.active -= 1));
  });

  return { open: () => all.size, refused: (socket) => over.has(socket) };
}
