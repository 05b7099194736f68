// The lazy request logger: a pino child only when a line is written at an enabled level.
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { lazyChildLogger } from '../../src/http/logger.js';

function logger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  const real = pino({ level }, sink);
  let children = 0;
  // Counts the children asked of it; what they make is real's own.
  const parent = Object.create(real) as typeof real;
  parent.child = ((...args: Parameters<typeof real.child>) => (children++, real.child(...args))) as typeof real.child;
  return { parent: parent as unknown as FastifyBaseLogger, lines, children: () => children };
}

t.test('below the level nothing is made or written; at it, one child with the bindings', async (t) => {
  const { parent, lines, children } = logger('warn');
  const log = lazyChildLogger(parent, { reqId: 'r-1' }, {});
  log.info('incoming request');
  log.debug('detail');
  t.equal(children(), 0, 'no child for lines below the level');
  t.equal(log.level, 'warn');
  log.warn({ code: 'QUEUE_FULL' }, 'refused');
  log.error('and again');
  t.equal(children(), 1, 'one child, made once');
  t.match(lines, [{ reqId: 'r-1', code: 'QUEUE_FULL', msg: 'refused', level: 40 }, { reqId: 'r-1', msg: 'and again', level: 50 }]);
  const sub = log.child({ part: 'x' });
  sub.warn('nested');
  t.match(lines.at(-1), { reqId: 'r-1', part: 'x', msg: 'nested' });
});
