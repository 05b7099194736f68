import { AUDIO_FILE, WORDS_FILE } from './synthesize.js';

/** What GET /download/:id?format= can serve: the file inside the artifact folder and its type. */
export const DOWNLOAD_FORMATS = {
  wav: { file: AUDIO_FILE, contentType: 'audio/wav' },
  json: { file: WORDS_FILE, contentType: 'application/json; charset=utf-8' },
} as const;

export type DownloadFormat = keyof typeof DOWNLOAD_FORMATS;

const BY_FILE = new Map<string, string>(Object.values(DOWNLOAD_FORMATS).map((f) => [f.file, f.contentType]));

export function contentTypeOf(file: string): string {
  return BY_FILE.get(file) ?? 'application/octet-stream';
}

export function downloadUrls(id: string, files: string[]): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const [format, { file }] of Object.entries(DOWNLOAD_FORMATS)) {
    if (files.includes(file)) urls[format] = `/download/${id}?format=${format}`;
  }
  return urls;
}
