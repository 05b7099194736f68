/** The shapes of the sidecar's JSON-lines protocol (see worker-py/ and DESIGN.md). */
import type { Word } from '../types.js';

export interface Availability {
  available: boolean;
  reason?: string;
  [key: string]: unknown;
}

export interface ReadyInfo {
  pid: number;
  engines: Record<string, Availability>;
  aligners: Record<string, Availability>;
  versions: Record<string, string>;
}

export interface SynthesizeParams {
  engine: string;
  text: string;
  voice: string | null;
  language: string | null;
  speed: number;
  output_path: string;
  word_timings: boolean;
}

export interface SynthesizeResult {
  engine: string;
  voice: string;
  sample_rate: number;
  samples: number;
  duration: number;
  words: Word[];
  timings_ms: Record<string, number>;
}

export interface SidecarErrorPayload {
  code: string;
  message: string;
}

/** Any line the sidecar writes on its protocol channel. */
export interface SidecarMessage {
  id?: number | null;
  event?: string;
  result?: unknown;
  error?: SidecarErrorPayload;
  done?: number;
  total?: number;
  [key: string]: unknown;
}
