import checkDiskSpaceImport from 'check-disk-space';

// The package's types describe its CommonJS build (a namespace with .default); under NodeNext the
// ESM build is loaded and its default export is the function itself. Accept either.
type CheckDiskSpace = typeof checkDiskSpaceImport.default;
const checkDiskSpace: CheckDiskSpace =
  (checkDiskSpaceImport as unknown as { default?: CheckDiskSpace }).default ?? (checkDiskSpaceImport as unknown as CheckDiskSpace);

/** Free and total bytes of the filesystem holding `path` (the first existing parent is used). */
export type DiskSpaceFn = (path: string) => Promise<{ free: number; size: number }>;

export const defaultDiskSpace: DiskSpaceFn = (path) => checkDiskSpace(path);

export interface RoomCheck {
  fits: boolean;
  free: number;
  needed: number;
}

/** An install fits when free space exceeds its estimate plus the margin kept for everything else. */
export async function checkRoom(diskSpace: DiskSpaceFn, path: string, estimate: number, margin: number): Promise<RoomCheck> {
  const { free } = await diskSpace(path);
  const needed = estimate + margin;
  return { fits: free > needed, free, needed };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
