/**
 * Returns the exact source text of member `name` of the top-level object in
 * `json` (already known to be valid JSON), or undefined when absent. Used to
 * keep `passthrough` byte for byte as the client sent it.
 */
export function rawJsonMember(json: string, name: string): string | undefined {
  let i = skipWs(json, 0);
  if (json[i] !== '{') return undefined;
  i = skipWs(json, i + 1);
  while (i < json.length && json[i] !== '}') {
    const keyEnd = skipString(json, i);
    const key = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipWs(json, keyEnd);
    i = skipWs(json, i + 1); // ':'
    const valueEnd = skipValue(json, i);
    if (key === name) return json.slice(i, valueEnd);
    i = skipWs(json, valueEnd);
    if (json[i] === ',') i = skipWs(json, i + 1);
  }
  return undefined;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\r' || s[i] === '\t')) i++;
  return i;
}

function skipString(s: string, i: number): number {
  i++; // opening quote
  while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < s.length) {
      const ch = s[i];
      if (ch === '"') {
        i = skipString(s, i);
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < s.length && !',}] \n\r\t'.includes(s[i])) i++;
  return i;
}

/**
 * Appends member `name` with raw JSON text to a serialised object, so a value the
 * client sent (passthrough) goes out byte for byte instead of through parse/stringify.
 */
export function withRawMember(objectJson: string, name: string, raw: string | null): string {
  return `${objectJson.slice(0, -1)},${JSON.stringify(name)}:${raw ?? 'null'}}`;
}
