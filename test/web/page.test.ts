// The page at / in real headless Chromium (Debian's, driven by playwright-core) against the
// service: speak and watch a word light up while the audio plays, download a valid SRT, store a
// voice (the fake GPU worker as f5), align an uploaded WAV, and see an API error's message.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium, type Browser } from 'playwright-core';
import { validator as srtValidator } from 'srt-validator';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { FAKE_SIDECAR, listening, tempDir } from '../helpers.js';

// The callbacks given to page.evaluate and waitForFunction run in the page; Node's types lack its DOM.
declare const document: { querySelector(selector: string): any }; // eslint-disable-line @typescript-eslint/no-explicit-any

const CHROMIUM = process.env.VOICECUE_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];

async function service(t: Parameters<typeof tempDir>[0], env: Record<string, string> = {}) {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'silent', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1', ...env });
  const app = await buildApp({
    config, logger: false, warmup: false,
    // espeak, pocketsphinx and dtw for real on the CPU lane; f5 is the fake worker on the GPU lane.
    workers: { autoStart: false, args: (lane) => (lane === 'gpu' ? [FAKE_SIDECAR, '--lane', lane] : ['-m', 'voicecue_worker', '--lane', lane]), env: { FAKE_F5: '1' } },
  });
  t.teardown(() => app.close());
  await app.workers.start();
  return `http://127.0.0.1:${await listening(app)}`;
}

// The waits below add up to more than tap's default 120 s: a stuck step fails with its own
// message rather than the whole file expiring without a word.
t.setTimeout(300_000);

let browser: Browser;
t.before(async () => {
  // A launch that hangs on a loaded machine is given up and tried once more.
  const launch = () => chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 45_000 });
  browser = await launch().catch((err: Error) => {
    t.comment(`chromium did not start (${err.message.split('\n')[0]}); trying once more`);
    return launch();
  });
});
t.teardown(() => browser?.close());

t.test('speak: the audio plays, a word lights up while it is said, the SRT downloads; then a voice and an alignment', async (t) => {
  const base = await service(t);
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  t.comment('page: open');
  await page.goto(base);
  await page.waitForFunction(() => document.querySelector('#health-status')?.textContent === 'Ready.');
  t.match(await page.textContent('#health-list'), /engine espeak: available/);

  await page.fill('#text', 'Hello there, this is the page speaking a sentence of several words for the highlight.');
  t.comment('page: speak');
  await page.click('#speak');
  // The stream done and the stored result shown (a loaded machine may take a while), then the clock.
  await page.waitForFunction(() => /words in/.test(document.querySelector('#result-info')?.textContent ?? '') || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
  const playing = await page.waitForFunction(() => (document.querySelector('#audio')?.currentTime ?? 0) > 0.3, null, { timeout: 30_000 }).then(() => true, () => false);
  const state = await page.evaluate(() => {
    const a = document.querySelector('#audio');
    return { t: a.currentTime, paused: a.paused, ready: a.readyState, error: a.error?.message ?? null, shown: document.querySelector('#error').hidden ? null : document.querySelector('#error').textContent };
  });
  t.ok(playing, `the audio element plays: currentTime advances (${JSON.stringify(state)})`);
  // From the start again (on a slow machine the short audio may be over by now): a word lights up as it is said.
  await page.evaluate(() => { const a = document.querySelector('#audio'); a.currentTime = 0; return a.play(); });
  const lit = await page.waitForFunction(() => document.querySelector('#audio').currentTime > 0.2 && document.querySelector('#words .word.current'), null, { timeout: 10_000 });
  const check = await page.evaluate(() => {
    const el = document.querySelector('#words .word.current')!;
    return { word: el.textContent, t: document.querySelector('#audio')!.currentTime };
  });
  t.ok(lit && check.word, `"${check.word}" is highlighted at ${check.t.toFixed(2)} s`);
  await page.waitForSelector('#downloads a[data-format=srt]', { timeout: 20_000 });
  const shot = join(tmpdir(), `voicecue-page-${process.pid}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`# screenshot of the page after speaking: ${shot}`);
  const href = await page.getAttribute('#downloads a[data-format=srt]', 'href');
  const srt = await (await fetch(new URL(href!, base))).text();
  t.same(srtValidator(srt), [], 'the SRT download is valid');
  t.match(await page.textContent('#preview'), /^1\r?\n00:00:00,\d{3} --> /, 'the SRT preview');

  // Clicking a word plays from it.
  await page.click('#words .word >> nth=5');
  const at = await page.evaluate(() => document.querySelector('#audio')!.currentTime);
  t.ok(at > 0.5, `seeked to the sixth word (${at.toFixed(2)} s)`);

  // New subtitle options: the preview is re-timed with them.
  const before = await page.textContent('#preview');
  await page.fill('#max_chars_per_line', '12');
  await page.dispatchEvent('#max_chars_per_line', 'input');
  await page.waitForFunction((old) => document.querySelector('#preview')?.textContent !== old, before, { timeout: 20_000 });
  const lines = (await page.textContent('#preview'))!.split(/\r?\n/).filter((l) => /[a-z]/i.test(l) && !l.includes('-->'));
  t.ok(lines.every((l) => [...l].length <= 12), 'lines of at most 12 characters after the change');

  t.comment('page: a voice to clone');
  // A voice to clone, uploaded and listed.
  const dir = await tempDir(t);
  const reference = join(dir, 'me.mp3');
  execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=220:d=3', reference]);
  await page.fill('#voice-name', 'Page voice');
  await page.fill('#voice-text', 'A reference.');
  await page.setInputFiles('#voice-file', reference);
  await page.click('#clone-form button[type=submit]');
  await page.waitForSelector('#voice-list li:has-text("Page voice")', { timeout: 10_000 });
  t.pass('the stored voice is listed');
  const voices = (await (await fetch(`${base}/voices`)).json()) as { voices: { name: string }[] };
  t.same(voices.voices.map((v) => v.name), ['Page voice'], 'stored through the API');
  await page.click('#voice-list li:has-text("Page voice") button:has-text("Delete")');
  await page.waitForSelector('#voice-list li', { state: 'detached', timeout: 10_000 });
  t.same(((await (await fetch(`${base}/voices`)).json()) as { voices: unknown[] }).voices, [], 'and deleted');

  t.comment('page: align');
  // An uploaded WAV aligned to its script: the same view, words timed.
  const wav = join(dir, 'speech.wav');
  execFileSync('espeak-ng', ['-w', wav, 'The quick brown fox jumps over the lazy dog.']);
  await page.setInputFiles('#align-file', wav);
  await page.fill('#align-text', 'The quick brown fox jumps over the lazy dog.');
  await page.click('#align-form button[type=submit]');
  await page.waitForFunction(() => /^9 words/.test(document.querySelector('#result-info')?.textContent ?? ''), null, { timeout: 20_000 });
  t.match(await page.textContent('#words'), /^The quick brown fox jumps over the lazy dog\.$/);
  t.equal(await page.locator('#words .word').count(), 9, 'nine words, each timed');
  t.same(problems, [], 'no script errors');
});

t.test('an API error shows its message; the key field sends a key', async (t) => {
  const base = await service(t, { VOICECUE_API_KEYS: 'k-page-0123456789' });
  const page = await browser.newPage();
  await page.goto(base);
  await page.click('#speak');
  await page.waitForSelector('#error:not([hidden])');
  t.match(await page.textContent('#error'), /API key is needed/, "the API's own message");
  await page.click('#key-box summary');
  await page.fill('#api-key', 'k-page-0123456789');
  await page.dispatchEvent('#api-key', 'change');
  await page.fill('#speed', '1');
  await page.fill('#text', '   ');
  await page.click('#speak');
  await page.waitForFunction(() => /whitespace/.test(document.querySelector('#error')?.textContent ?? ''));
  t.pass('with the key the request reaches the validation, whose message is shown');
});

if (!existsSync(CHROMIUM)) t.fail(`no Chromium at ${CHROMIUM}: scripts/setup.mjs installs Debian's chromium`);
