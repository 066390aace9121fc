/**
 * Progress of a batch on stderr: on a terminal, one line redrawn in place (done / failed /
 * per second / ETA); otherwise one plain line per item, so logs and pipes stay readable.
 */
export class Progress {
  private readonly mode: 'bar' | 'lines' | 'quiet';
  private readonly total: number;
  private readonly started = Date.now();
  private finished = 0;
  private failed = 0;
  private lastDraw = 0;

  constructor(mode: 'bar' | 'lines' | 'quiet', total: number) {
    this.mode = mode;
    this.total = total;
  }

  tick(failed: boolean, line: string): void {
    this.finished++;
    if (failed) this.failed++;
    if (this.mode === 'lines') process.stderr.write(`${line}\n`);
    if (this.mode === 'bar' && (Date.now() - this.lastDraw > 100 || this.finished === this.total))
      this.draw();
  }

  done(what: string): void {
    if (this.mode === 'bar') process.stderr.write('\n');
    if (this.mode !== 'quiet')
      process.stderr.write(`${what}: ${this.finished}/${this.total} in ${this.elapsed().toFixed(1)} s\n`);
  }

  private elapsed(): number {
    return (Date.now() - this.started) / 1000;
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const rate = this.finished / Math.max(this.elapsed(), 0.001);
    const eta = rate > 0 ? (this.total - this.finished) / rate : 0;
    const width = 30;
    const filled = this.total ? Math.round((this.finished / this.total) * width) : width;
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    process.stderr.write(
      `\r${bar} ${this.finished}/${this.total} done, ${this.failed} failed, ${rate.toFixed(1)}/s, ETA ${Math.ceil(eta)} s `,
    );
  }
}
