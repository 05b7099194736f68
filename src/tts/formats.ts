import { FORMATS, FORMAT_NAMES, type Format } from '../subtitles/index.js';
import { AUDIO_FILE } from '../pipeline/audio.js';
import { TRANSCODED, type TranscodedFormat } from '../audio/transcode.js';

/**
 * What GET /download/:id?format= can serve: the file inside the artifact folder and its type.
 * The transcoded audio formats are made on first request and cached beside the WAV.
 */
export const DOWNLOAD_FORMATS: Readonly<Record<'wav' | TranscodedFormat | Format, { file: string; contentType: string }>> = {
  wav: { file: AUDIO_FILE, contentType: 'audio/wav' },
  ...(Object.fromEntries(Object.entries(TRANSCODED).map(([f, spec]) => [f, { file: spec.file, contentType: spec.contentType }])) as Record<
    TranscodedFormat,
    { file: string; contentType: string }
  >),
  ...(Object.fromEntries(FORMAT_NAMES.map((f) => [f, { file: FORMATS[f].fileName, contentType: FORMATS[f].contentType }])) as Record<
    Format,
    { file: string; contentType: string }
  >),
};

export type DownloadFormat = keyof typeof DOWNLOAD_FORMATS;

const BY_FILE = new Map<string, string>(Object.values(DOWNLOAD_FORMATS).map((f) => [f.file, f.contentType]));

export function contentTypeOf(file: string): string {
  return BY_FILE.get(file) ?? 'application/octet-stream';
}

/** Where a result is downloaded: the audio by default, or one format. */
export function downloadPath(id: string, format?: DownloadFormat): string {
  return format ? `/download/${id}?format=${format}` : `/download/${id}`;
}

/** A download path for the audio (the WAV, and the format asked for) and for each subtitle format written. */
export function downloadUrls(id: string, formats: readonly Format[], audio: DownloadFormat = 'wav'): Record<string, string> {
  const audios: DownloadFormat[] = audio === 'wav' ? ['wav'] : ['wav', audio];
  return Object.fromEntries([...audios, ...formats].map((f) => [f, downloadPath(id, f)]));
}
