// The CLI's progress on stderr: a bar redrawn in place on a terminal, a line per 10% otherwise.

const human = (n) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

export class Progress {
  constructor(total, quiet = false) {
    this.total = total;
    this.sent = 0;
    this.quiet = quiet;
    this.started = Date.now();
    this.lastDraw = 0;
    this.lastDecile = -1;
  }

  /** `sent` bytes are stored or on their way; it goes down when a failed part is sent again. */
  update(sent) {
    this.sent = sent;
    this.draw();
  }

  note(text) {
    if (!this.quiet) process.stderr.write(`${text}\n`);
  }

  draw(force = false) {
    if (this.quiet) return;
    const now = Date.now();
    const fraction = this.total ? Math.min(1, this.sent / this.total) : 1;
    const rate = this.sent / Math.max(0.001, (now - this.started) / 1000);
    const line = `${(fraction * 100).toFixed(1).padStart(5)}% ${human(this.sent)} / ${human(this.total)} ${human(rate)}/s`;
    if (process.stderr.isTTY) {
      if (!force && now - this.lastDraw < 100) return;
      const width = 30;
      const filled = Math.round(fraction * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile === this.lastDecile && !force) return;
      this.lastDecile = decile;
      process.stderr.write(`${line}\n`);
    }
    this.lastDraw = now;
  }

  finish() {
    this.draw(true);
    if (!this.quiet && process.stderr.isTTY) process.stderr.write('\n');
  }
}
