/** `path.key`, or `key` alone when there is no path (error field names for code and for specs). */
export function fieldOf(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}
