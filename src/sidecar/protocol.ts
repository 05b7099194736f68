/** The shapes of the sidecar's JSON-lines protocol (see worker-py/ and DESIGN.md). */
import { z } from 'zod';

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

const word = z.object({
  word: z.string(),
  start: z.number().nonnegative(),
  end: z.number().nonnegative(),
  char_start: z.number().int().nonnegative(),
  char_end: z.number().int().nonnegative(),
  source: z.string(),
  confidence: z.number().nullable().optional(),
});

/** The worker's answer is checked before anything is built on it. */
export const synthesizeResult = z.object({
  engine: z.string(),
  voice: z.string(),
  sample_rate: z.number().int().positive(),
  samples: z.number().int().nonnegative(),
  duration: z.number().nonnegative(),
  words: z.array(word),
  timings_ms: z.record(z.string(), z.number()),
});

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
