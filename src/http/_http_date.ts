// HTTP-date (RFC 9110, section 5.6.7): the preferred IMF-fixdate, and the
// obsolete RFC 850 and asctime forms that recipients must still accept.
// Anything else is not a date: conditional headers that carry one are then
// ignored, as the RFC requires.

const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d\\d):(\\d\\d):(\\d\\d)";

/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(
  `^${DAY}, (\\d\\d) ${MONTH} (\\d{4}) ${TIME} GMT$`,
);
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850 = new RegExp(
  `^${LONG_DAY}, (\\d\\d)-${MONTH}-(\\d\\d) ${TIME} GMT$`,
);
/** `Sun Nov  6 08:49:37 1994` */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** Milliseconds since the epoch of an HTTP-date, or `undefined` if `value` is not one. */
export function parseHttpDate(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let day: string, month: string, year: number, h: string, m: string, s: string;
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    [, day = "", month = "", , h = "", m = "", s = ""] = match;
    year = Number(match[3]);
  } else if ((match = RFC850.exec(text))) {
    [, day = "", month = "", , h = "", m = "", s = ""] = match;
    year = twoDigitYear(Number(match[3]));
  } else if ((match = ASCTIME.exec(text))) {
    [, month = "", day = "", h = "", m = "", s = ""] = match;
    year = Number(match[6]);
  } else {
    return undefined;
  }
  const time = Date.UTC(
    year,
    MONTHS.indexOf(month),
    Number(day),
    Number(h),
    Number(m),
    Number(s),
  );
  // Reject what Date.UTC would roll over: 31 Feb, 25:00:00, 00:60:00.
  const check = new Date(time);
  if (
    check.getUTCDate() !== Number(day) || check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(m) || Number(s) > 60
  ) {
    return undefined;
  }
  return time;
}

/** The IMF-fixdate of `time` (milliseconds since the epoch), to the second. */
export function formatHttpDate(time: number): string {
  return new Date(time).toUTCString();
}

/**
 * A two-digit RFC 850 year: one more than 50 years in the future is taken as
 * the most recent past year with those digits.
 */
function twoDigitYear(yy: number): number {
  const now = new Date().getUTCFullYear();
  let year = now - (now % 100) + yy;
  if (year > now + 50) year -= 100;
  return year;
}
