/** A pino destination that keeps each JSON line, parsed, so a test can read what was logged. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];

  write(line: string): void {
    for (const part of line.split('\n')) {
      if (part.trim() !== '') this.lines.push(JSON.parse(part) as Record<string, unknown>);
    }
  }

  withMessage(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line['msg'] === msg);
  }
}
