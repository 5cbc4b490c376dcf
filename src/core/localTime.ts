// Local calendar days without a Date object per record: the time zone offset is looked up once per 15 minutes of
// UTC time (every zone in use changes its offset on a quarter hour of UTC, Lord Howe's half-hour DST included).

import * as fs from 'node:fs';

const BUCKET_MS = 900_000;

let zoneName: string | undefined;

/**
 * The local time zone: its IANA name, or `UTC±HH:MM` where TZ holds POSIX rules rather than a name (`UTC+3` is
 * UTC-03:00), or `UTC` where Node counts in UTC because it knows no such zone (`Foo/Bar`, and rules with minutes). Intl costs ~20 ms on first
 * use (ICU loading), a third of a warm start, so the cheap sources come first: a $TZ name found in the system's time
 * zone files, then the /etc/localtime link on Linux and macOS.
 */
export function localTimeZoneName(): string {
  if (zoneName) return zoneName;
  const fromEnv = process.env.TZ?.replace(/^:/, '');
  if (fromEnv && /^[A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*$/.test(fromEnv) && process.platform !== 'win32') {
    try {
      if (fs.statSync(`${process.env.TZDIR || '/usr/share/zoneinfo'}/${fromEnv}`).isFile()) return (zoneName = fromEnv);
    } catch {
      // not a zone this system knows by that name: ask Intl
    }
  }
  if (process.platform !== 'win32' && !fromEnv) {
    try {
      const match = /zoneinfo\/(.+)$/.exec(fs.readlinkSync('/etc/localtime'));
      if (match) return (zoneName = match[1]);
    } catch {
      // not a link (or absent): ask Intl
    }
  }
  return (zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone ?? offsetName(-new Date().getTimezoneOffset()));
}

/** `UTC` or `UTC±HH:MM` for an offset east of UTC in minutes. */
function offsetName(minutes: number): string {
  if (minutes === 0) return 'UTC';
  const abs = Math.abs(minutes);
  return `UTC${minutes > 0 ? '+' : '-'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
const DAY_MS = 86_400_000;

export class LocalCalendar {
  private readonly offsets = new Map<number, number>();

  /** Offset of local time from UTC at `timestamp`, in ms (east positive). */
  offsetAt(timestamp: number): number {
    const bucket = Math.floor(timestamp / BUCKET_MS);
    let offset = this.offsets.get(bucket);
    if (offset === undefined) {
      offset = -new Date(bucket * BUCKET_MS + BUCKET_MS / 2).getTimezoneOffset() * 60_000;
      this.offsets.set(bucket, offset);
    }
    return offset;
  }

  /** Days since 1970-01-01 in local time. */
  dayNumber(timestamp: number): number {
    return Math.floor((timestamp + this.offsetAt(timestamp)) / DAY_MS);
  }

  /** Hours since 1970-01-01T00:00 in local time. */
  hourNumber(timestamp: number): number {
    return Math.floor((timestamp + this.offsetAt(timestamp)) / 3_600_000);
  }

  /** `YYYY-MM-DDTHH:00` for a local hour number. */
  static hourLabel(hourNumber: number): string {
    return `${new Date(hourNumber * 3_600_000).toISOString().slice(0, 13)}:00`;
  }

  /** `YYYY-MM-DD` for a local day number. */
  static dayLabel(dayNumber: number): string {
    return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
  }

  /** The local day number of a `YYYY-MM-DD` date, or undefined when it is not a real date. */
  static parseDay(text: string): number | undefined {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!match) return undefined;
    const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
    const utc = Date.UTC(year, month - 1, day);
    const check = new Date(utc);
    if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
    return Math.floor(utc / DAY_MS);
  }
}
