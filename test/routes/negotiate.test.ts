import t from 'tap';
import { negotiate } from '../../src/http/negotiate.js';

t.test('Accept negotiation by q-value and specificity', async (t) => {
  const cases: [string | undefined, 'json' | 'audio' | 'none'][] = [
    [undefined, 'json'],
    ['', 'json'],
    ['*/*', 'json'],
    ['application/json', 'json'],
    ['audio/wav', 'audio'],
    ['audio/x-wav', 'audio'],
    ['audio/*', 'audio'],
    ['*/*, audio/wav', 'json'],
    ['audio/wav, */*', 'json'],
    ['audio/wav, application/json;q=0.5', 'audio'],
    ['application/json;q=0.4, audio/*;q=0.6', 'audio'],
    ['application/json;q=0, */*', 'audio'],
    ['audio/wav;q=0, */*', 'json'],
    ['text/html, application/xhtml+xml', 'none'],
    ['application/json;q=0', 'none'],
    ['AUDIO/WAV', 'audio'],
  ];
  for (const [accept, want] of cases) {
    if (want === 'none') t.throws(() => negotiate(accept), { code: 'NOT_ACCEPTABLE' }, String(accept));
    else t.equal(negotiate(accept), want, String(accept));
  }
});
