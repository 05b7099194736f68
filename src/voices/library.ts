/**
 * Stored voices for f5: a reference recording (mono 24 kHz WAV, decoded and trimmed once at
 * upload) and its transcript, under <data>/voices/<id>/ with meta.json. Never touched by the
 * results' TTL, quota or sweeps. A voice is made in the store's staging folder and renamed into
 * place whole; a deleted one is renamed out first, so a voice is always all there or not at all.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../errors.js';
import type { StoredVoice } from '../openai/voices.js';
import { newArtifactId } from '../store/artifacts.js';

/** `vc_` and 20 random base-36 characters: never an eSpeak NG voice name, checked before any path. */
const VOICE_ID = /^vc_[0-9a-z]{20}$/;
export const isVoiceId = (id: string): boolean => VOICE_ID.test(id);
export const VOICE_AUDIO_FILE = 'audio.wav';
const META_FILE = 'meta.json';

export interface Voice {
  id: string;
  name: string;
  ref_text: string;
  language: string | null;
  /** Seconds of the stored reference (after trimming). */
  duration: number;
  /** Seconds of the upload, when it was cut at a pause to fit F5's reference length. */
  trimmed_from?: number;
  created_at: string;
  updated_at: string;
}

function newId(): string {
  const bytes = randomBytes(20);
  return `vc_${[...bytes].map((b) => (b % 36).toString(36)).join('')}`;
}

export class VoiceStore {
  readonly dir: string;

  constructor(dataDir: string, readonly maxVoices: number) {
    this.dir = join(dataDir, 'voices');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  folder(id: string): string {
    if (!isVoiceId(id)) throw new Error(`not a voice id: ${id}`);
    return join(this.dir, id);
  }

  /**
   * Publishes a staging folder holding VOICE_AUDIO_FILE as a new voice: meta.json is written in
   * it, then the folder is renamed into place.
   */
  async add(stagingDir: string, fields: Omit<Voice, 'id' | 'created_at' | 'updated_at'>): Promise<Voice> {
    if ((await this.ids()).length >= this.maxVoices) {
      throw new ApiError('TOO_MANY_VOICES', `the library holds its limit of ${this.maxVoices} voices (VOICECUE_MAX_VOICES); delete one first`);
    }
    const now = new Date().toISOString();
    const voice: Voice = { id: newId(), ...fields, created_at: now, updated_at: now };
    await writeFile(join(stagingDir, META_FILE), JSON.stringify(voice));
    await rename(stagingDir, this.folder(voice.id));
    return voice;
  }

  async get(id: string): Promise<Voice | null> {
    if (!isVoiceId(id)) return null;
    try {
      return JSON.parse(await readFile(join(this.folder(id), META_FILE), 'utf8')) as Voice;
    } catch {
      return null;
    }
  }

  /** Every voice, oldest first. */
  async list(): Promise<Voice[]> {
    const voices = await Promise.all((await this.ids()).map((id) => this.get(id)));
    return voices.filter((v): v is Voice => v !== null).sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /** A new name or transcript; meta.json is replaced whole (written beside it, then renamed). */
  async update(id: string, change: Partial<Pick<Voice, 'name' | 'ref_text'>>): Promise<Voice | null> {
    const voice = await this.get(id);
    if (!voice) return null;
    const updated: Voice = { ...voice, ...change, updated_at: new Date().toISOString() };
    const tmp = join(this.folder(id), `${META_FILE}.${randomBytes(6).toString('hex')}`);
    await writeFile(tmp, JSON.stringify(updated));
    await rename(tmp, join(this.folder(id), META_FILE));
    return updated;
  }

  /**
   * Renamed out of the library (gone for readers at once) into staging under a result-shaped name,
   * so the sweep at start removes it should this process die before the rm. False when there was none.
   */
  async remove(id: string, stagingDir: string): Promise<boolean> {
    if (!isVoiceId(id)) return false;
    const trash = join(stagingDir, newArtifactId());
    try {
      await rename(this.folder(id), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  /** A voice as f5's reference for the pipeline (SpeechRequest.storedVoice); null when there is none. */
  async reference(id: string): Promise<{ id: string; text: string; audioPath: string; language: string | null } | null> {
    const voice = await this.get(id);
    return voice ? { id: voice.id, text: voice.ref_text, audioPath: join(this.folder(id), VOICE_AUDIO_FILE), language: voice.language } : null;
  }

  /** What the OpenAI routes need of a voice. */
  async stored(id: string): Promise<StoredVoice | null> {
    const voice = await this.get(id);
    return voice ? { id: voice.id, name: voice.name, engine: 'f5', voice: voice.id } : null;
  }

  private async ids(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter(isVoiceId);
  }
}
