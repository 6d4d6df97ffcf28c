/**
 * JSON with comments and trailing commas (VS Code's `mcp.json` is JSONC). Comments and trailing commas are
 * blanked out with spaces so positions in errors still match the file.
 */
export function stripJsonComments(text: string): string {
  const out = text.split("");
  let inString = false;
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n" && out[k] !== "\r") out[k] = " ";
  };
  while (i < text.length) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i += 2;
      else {
        if (ch === '"') inString = false;
        i++;
      }
      continue;
    }
    if (ch === '"') {
      inString = true;
      i++;
    } else if (ch === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (ch === ",") {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j] as string)) j++;
      // Skip comments already blanked? They are blanked as we go only behind i, so look past them too.
      while (text[j] === "/" && (text[j + 1] === "/" || text[j + 1] === "*")) {
        if (text[j + 1] === "/") {
          const end = text.indexOf("\n", j);
          j = end < 0 ? text.length : end;
        } else {
          const end = text.indexOf("*/", j + 2);
          j = end < 0 ? text.length : end + 2;
        }
        while (j < text.length && /\s/.test(text[j] as string)) j++;
      }
      if (text[j] === "}" || text[j] === "]") out[i] = " ";
      i++;
    } else {
      i++;
    }
  }
  return out.join("");
}

/** Line and column (1-based) of a character offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Parses JSONC; a syntax error names the line and column. */
export function parseJsonc(text: string): unknown {
  const stripped = stripJsonComments(text.replace(/^\uFEFF/, ""));
  try {
    return JSON.parse(stripped);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    if (position) {
      const { line, column } = lineAndColumn(stripped, Number(position[1]));
      throw new SyntaxError(
        `${message.replace(/ in JSON at position \d+.*$/, "")} at line ${line}, column ${column}`,
      );
    }
    throw new SyntaxError(message);
  }
}
