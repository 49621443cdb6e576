import {
  downloadProgressLine,
  formatBytes,
  formatDuration,
  jobProgressLine,
  progressBar,
  renderTable,
} from './output';

describe('what the CLI prints', () => {
  it('pads table columns to the widest cell', () => {
    expect(
      renderTable(
        ['ID', 'STATE'],
        [
          ['a', 'ready'],
          ['long-id', null],
        ],
      ),
    ).toBe('ID       STATE\na        ready\nlong-id  -');
  });

  it('writes durations, sizes and bars for people', () => {
    expect([formatDuration(45), formatDuration(185), formatDuration(7440), formatDuration(null)]).toEqual([
      '45s',
      '3m05s',
      '2h04m',
      '-',
    ]);
    expect([formatBytes(512), formatBytes(1536)]).toEqual(['512 B', '1.5 KiB']);
    expect(progressBar(50, 10)).toBe('[#####-----]  50%');
    expect(progressBar(140, 4)).toBe('[####] 100%');
  });

  it("shows a running job's stage and ETA, a queued one as queued", () => {
    expect(jobProgressLine({ percent: 40, stage: 'reading trades', etaSeconds: 65, status: 'running' })).toBe(
      '[##########--------------]  40%  reading trades  ETA 1m05s',
    );
    expect(jobProgressLine({ percent: 0, stage: '', etaSeconds: null, status: 'queued' })).toContain(
      'queued',
    );
  });

  it('shows a download of unknown size as bytes and rate', () => {
    expect(downloadProgressLine(2048, null, 1000)).toBe('2.0 KiB  2.0 KiB/s');
  });
});
