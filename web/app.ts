/**
 * The page at /: speak, listen with the words lighting up, clone and align — through the public
 * API only (what the page does, a script can do). Plain DOM, no framework; compiled by
 * `tsc -p tsconfig.web.json` into dist/web/app.js.
 */
interface Word { word: string; start: number; end: number; char_start: number; char_end: number }
interface Cue { start: number; end: number }
interface StoredVoice { id: string; name: string; duration: number; audio_url: string }
interface Result { id: string; text: string; words: Word[]; cues: Cue[]; wav?: Blob }

const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => document.querySelector<T>(selector)!;
const audio = $<HTMLAudioElement>('#audio');
let apiKey = ''; // the page's memory only: never stored, never in a URL
let current: Result | undefined;
let preview: 'srt' | 'vtt' | 'ass' = 'srt';

/** A refusal in the API's own words. */
class ApiFailure extends Error {}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (apiKey) headers.set('authorization', `Bearer ${apiKey}`);
  const res = await fetch(path, { ...init, headers });
  if (res.ok) return res;
  const body = (await res.json().catch(() => null)) as { message?: string; error?: { message?: string } } | null;
  throw new ApiFailure(body?.message ?? body?.error?.message ?? `${res.status} ${res.statusText}`);
}

function showError(err: unknown): void {
  const box = $('#error');
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
}
const clearError = () => ($('#error').hidden = true);

/** Runs a handler with its button busy and its failure shown. */
function action(button: HTMLButtonElement, run: () => Promise<void>): void {
  clearError();
  button.disabled = true;
  run().catch(showError).finally(() => (button.disabled = false));
}

// ---- health --------------------------------------------------------------------------------

async function loadHealth(): Promise<void> {
  const res = await fetch('/health?verbose=1');
  const health = (await res.json()) as { status: string; reason?: string; engines: Record<string, { available: boolean; reason?: string }>; aligners: Record<string, { available: boolean; reason?: string }> };
  $('#health-status').textContent = health.status === 'ready' ? 'Ready.' : `Not ready (${health.status}): ${health.reason ?? ''}`;
  const list = $('#health-list');
  list.replaceChildren();
  for (const [kind, items] of [['engine', health.engines], ['aligner', health.aligners]] as const) {
    for (const [name, item] of Object.entries(items)) {
      const li = document.createElement('li');
      li.className = item.available ? 'on' : 'off';
      li.textContent = `${kind} ${name}: ${item.available ? 'available' : `unavailable — ${item.reason ?? ''}`}`;
      list.append(li);
    }
  }
}

// ---- voices --------------------------------------------------------------------------------

const ESPEAK_VOICES = ['en-us', 'en-gb', 'en-us+f3', 'de', 'fr', 'es', 'it', 'pt', 'nl', 'pl', 'ru', 'ja', 'cmn'];

async function loadVoices(): Promise<void> {
  const { voices } = (await (await api('/voices')).json()) as { voices: StoredVoice[] };
  const names = $('#voice-names');
  const engine = $<HTMLSelectElement>('#engine').value;
  names.replaceChildren(...(engine === 'f5' ? voices.map((v) => new Option(v.name, v.id)) : ESPEAK_VOICES.map((v) => new Option(v, v))));
  const list = $('#voice-list');
  list.replaceChildren(...voices.map((v) => {
    const li = document.createElement('li');
    const play = button('Play', async () => {
      const blob = await (await api(v.audio_url)).blob();
      new Audio(URL.createObjectURL(blob)).play().catch(showError);
    });
    const use = button('Use', async () => {
      $<HTMLSelectElement>('#engine').value = 'f5';
      $<HTMLInputElement>('#voice').value = v.id;
    });
    const remove = button('Delete', async () => {
      await api(`/voices/${v.id}`, { method: 'DELETE' });
      await loadVoices();
    });
    li.append(`${v.name} (${v.duration.toFixed(1)} s, ${v.id})`, play, use, remove);
    li.dataset.voice = v.id;
    return li;
  }));
}

function button(label: string, run: () => Promise<void>): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', () => action(b, run));
  return b;
}

let recorded: Blob | undefined;
let recorder: MediaRecorder | undefined;
/** Record from the microphone until pressed again; the recording is kept for Save voice. */
async function toggleRecording(b: HTMLButtonElement): Promise<void> {
  if (recorder) return void recorder.stop();
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const parts: Blob[] = [];
  const r = new MediaRecorder(stream);
  r.ondataavailable = (e) => parts.push(e.data);
  r.onstop = () => {
    recorded = new Blob(parts, { type: r.mimeType });
    stream.getTracks().forEach((t) => t.stop());
    recorder = undefined;
    b.textContent = `Record again (${(recorded.size / 1024).toFixed(0)} KB kept)`;
  };
  r.start();
  recorder = r;
  b.textContent = 'Stop recording';
}

async function saveVoice(): Promise<void> {
  const file = $<HTMLInputElement>('#voice-file').files?.[0] ?? recorded;
  if (!file) throw new Error('choose a recording, or record one');
  const form = new FormData();
  form.append('name', $<HTMLInputElement>('#voice-name').value);
  form.append('ref_text', $<HTMLTextAreaElement>('#voice-text').value);
  form.append('audio', file, file instanceof File ? file.name : 'recording.webm');
  await api('/voices', { method: 'POST', body: form });
  await loadVoices();
}

// ---- speaking, streamed ----------------------------------------------------------------------

/** Appends streamed mp3 to the audio element (Media Source Extensions), in order. */
function streamedAudio(): { add(bytes: Uint8Array): void; end(): Promise<void> } {
  const chunks: Uint8Array[] = [];
  if (!('MediaSource' in window) || !MediaSource.isTypeSupported('audio/mpeg')) {
    return { add: (b) => void chunks.push(b), end: async () => void (audio.src = URL.createObjectURL(new Blob(chunks as BlobPart[], { type: 'audio/mpeg' }))) };
  }
  const source = new MediaSource();
  audio.src = URL.createObjectURL(source);
  const opened = new Promise<SourceBuffer>((resolve) => source.addEventListener('sourceopen', () => resolve(source.addSourceBuffer('audio/mpeg')), { once: true }));
  let ended = false;
  let started = false;
  const pump = async () => {
    const buffer = await opened;
    while (!buffer.updating && chunks.length) {
      buffer.appendBuffer(chunks.shift()! as BufferSource);
      await new Promise((r) => buffer.addEventListener('updateend', r, { once: true }));
      if (!started) { started = true; audio.play().catch(() => undefined); }
    }
    if (ended && !chunks.length && !buffer.updating && source.readyState === 'open') source.endOfStream();
  };
  return {
    add: (b) => { chunks.push(b); void pump(); },
    end: async () => { ended = true; await pump(); },
  };
}

async function speak(): Promise<void> {
  const text = $<HTMLTextAreaElement>('#text').value;
  const engine = $<HTMLSelectElement>('#engine').value;
  const voice = $<HTMLInputElement>('#voice').value.trim() || $<HTMLInputElement>('#language').value.trim() || (engine === 'f5' ? '' : 'en-us');
  if (engine === 'f5' && !voice) throw new Error('f5 speaks a stored voice: save one below, then press Use');
  const res = await api('/v1/audio/speech', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: engine, input: text, voice, speed: Number($<HTMLInputElement>('#speed').value), response_format: 'mp3', stream_format: 'sse' }),
  });
  const id = res.headers.get('x-voicecue-id')!;
  current = { id, text, words: [], cues: [] };
  $('#result').hidden = false;
  renderWords(current);
  const sink = streamedAudio();
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let cut: number;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      if (!event.startsWith('data: ')) continue;
      const data = JSON.parse(event.slice(6)) as { type: string; audio?: string; words?: Word[]; error?: { message: string } };
      if (data.type === 'speech.audio.delta') sink.add(Uint8Array.from(atob(data.audio!), (c) => c.charCodeAt(0)));
      else if (data.type === 'voicecue.words') { current.words.push(...data.words!); renderWords(current); }
      else if (data.type === 'error') throw new ApiFailure(data.error!.message);
    }
  }
  await sink.end();
  await loadResult(id, text, false);
}

// ---- a stored result: its words, cues, waveform, subtitles and downloads ----------------------

async function loadResult(id: string, text: string, replaceAudio: boolean): Promise<void> {
  const file = (await (await api(`/download/${id}?format=json`)).json()) as { words: Word[]; cues: Cue[] };
  const wav = await (await api(`/download/${id}`)).blob();
  current = { id, text, words: file.words, cues: file.cues, wav };
  $('#result').hidden = false;
  if (replaceAudio) audio.src = URL.createObjectURL(wav);
  renderWords(current);
  await drawWaveform(wav, file.cues);
  await showPreview();
  renderDownloads(id);
  $('#result-info').textContent = `${file.words.length} words in ${file.cues.length} cues · result ${id}`;
}

/** The text as written, each word a button that plays from it. */
function renderWords(result: Result): void {
  const points = [...result.text];
  const out = $('#words');
  out.replaceChildren();
  let at = 0;
  result.words.forEach((w, i) => {
    out.append(points.slice(at, w.char_start).join(''));
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'word';
    b.dataset.index = String(i);
    b.textContent = points.slice(w.char_start, w.char_end).join('');
    b.addEventListener('click', () => { audio.currentTime = w.start; audio.play().catch(showError); });
    out.append(b);
    at = w.char_end;
  });
  out.append(points.slice(at).join(''));
}

function highlight(): void {
  const t = audio.currentTime;
  const words = current?.words ?? [];
  document.querySelectorAll<HTMLElement>('#words .word').forEach((el) => {
    const w = words[Number(el.dataset.index)];
    if (!w) return;
    el.classList.toggle('current', t >= w.start && t < w.end);
    el.classList.toggle('spoken', t >= w.end);
  });
  requestAnimationFrame(highlight);
}

async function drawWaveform(wav: Blob, cues: Cue[]): Promise<void> {
  const canvas = $<HTMLCanvasElement>('#waveform');
  canvas.width = canvas.clientWidth * devicePixelRatio || 800;
  const ctx = canvas.getContext('2d')!;
  const decoded = await new AudioContext().decodeAudioData(await wav.arrayBuffer());
  const samples = decoded.getChannelData(0);
  const { width, height } = canvas;
  const style = getComputedStyle(document.body);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = style.color;
  const step = Math.max(1, Math.floor(samples.length / width));
  for (let x = 0; x < width; x++) {
    let peak = 0;
    for (let i = x * step; i < (x + 1) * step && i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]!));
    ctx.fillRect(x, height / 2 - peak * height / 2, 1, Math.max(1, peak * height));
  }
  ctx.fillStyle = style.getPropertyValue('--accent');
  for (const cue of cues) for (const s of [cue.start, cue.end]) ctx.fillRect((s / decoded.duration) * width, 0, 2, height);
}

async function showPreview(): Promise<void> {
  if (!current) return;
  $('#preview').textContent = await (await api(`/download/${current.id}?format=${preview}`)).text();
}

const FORMATS = ['wav', 'mp3', 'srt', 'vtt', 'ass', 'ttml', 'csv', 'json'];
function renderDownloads(id: string): void {
  $('#downloads').replaceChildren(...FORMATS.map((format) => {
    const a = document.createElement('a');
    a.className = 'download';
    a.href = `/download/${id}?format=${format}`;
    a.download = `${id}.${format}`;
    a.textContent = format.toUpperCase();
    a.dataset.format = format;
    // With a key, the file is fetched with it (a plain link cannot send one).
    a.addEventListener('click', (e) => {
      if (!apiKey) return;
      e.preventDefault();
      api(a.href).then(async (r) => {
        const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(await r.blob()), download: a.download });
        link.click();
      }).catch(showError);
    });
    return a;
  }));
}

/** New subtitle options: the same audio re-timed by the aligner chain, the preview and downloads with it. */
let retiming: ReturnType<typeof setTimeout> | undefined;
function retime(): void {
  clearTimeout(retiming);
  retiming = setTimeout(() => {
    if (!current?.wav) return;
    const form = new FormData();
    form.append('audio', current.wav, 'speech.wav');
    form.append('text', current.text);
    for (const field of ['max_chars_per_line', 'max_lines', 'max_cue_duration']) form.append(field, $<HTMLInputElement>(`#${field}`).value);
    clearError();
    api('/align', { method: 'POST', body: form })
      .then(async (r) => loadResult(((await r.json()) as { id: string }).id, current!.text, false))
      .catch(showError);
  }, 400);
}

async function alignUpload(): Promise<void> {
  const file = $<HTMLInputElement>('#align-file').files?.[0];
  if (!file) throw new Error('choose a recording');
  const text = $<HTMLTextAreaElement>('#align-text').value;
  const form = new FormData();
  form.append('audio', file, file.name);
  form.append('text', text);
  const { id } = (await (await api('/align', { method: 'POST', body: form })).json()) as { id: string };
  await loadResult(id, text, true);
}

// ---- wiring ----------------------------------------------------------------------------------

function submit(selector: string, run: () => Promise<void>): void {
  const form = $<HTMLFormElement>(selector);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    action(form.querySelector<HTMLButtonElement>('button[type=submit]')!, run);
  });
}

$<HTMLInputElement>('#api-key').addEventListener('change', (e) => {
  apiKey = (e.target as HTMLInputElement).value.trim();
  loadVoices().catch(showError);
});
$<HTMLInputElement>('#speed').addEventListener('input', (e) => ($('#speed-value').textContent = Number((e.target as HTMLInputElement).value).toFixed(1)));
$<HTMLSelectElement>('#engine').addEventListener('change', () => loadVoices().catch(showError));
const recordButton = $<HTMLButtonElement>('#record');
recordButton.addEventListener('click', () => { clearError(); toggleRecording(recordButton).catch(showError); });
$('#options').addEventListener('input', retime);
document.querySelectorAll<HTMLButtonElement>('[data-preview]').forEach((tab) => tab.addEventListener('click', () => {
  preview = tab.dataset.preview as typeof preview;
  document.querySelectorAll('[data-preview]').forEach((t) => t.setAttribute('aria-selected', String(t === tab)));
  showPreview().catch(showError);
}));
submit('#speak-form', speak);
submit('#clone-form', saveVoice);
submit('#align-form', alignUpload);
requestAnimationFrame(highlight);
loadHealth().catch(showError);
loadVoices().catch(() => undefined); // without a key where one is needed: listed once it is given
