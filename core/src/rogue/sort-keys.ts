/**
 * Sorts object keys in place by UTF-16 code units, as `Array.prototype.sort()` sorts strings (keys are distinct,
 * so stability does not matter): an insertion sort for the usual few keys (an argument object, an assessment),
 * the built-in sort beyond 16. Shared by the argument fingerprint and the canonical JSON of assessments.
 */
export function sortKeys(keys: string[]): void {
  const length = keys.length;
  if (length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
}
