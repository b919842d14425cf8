"""The Markdown table of a benchmark run."""

HEADER = ("| threads | group | case | ours | reference | ours / ref | "
          "GFLOP/s ours (ref) | of ceiling | first call ours | target |")
RULE = "|---|---|---|---|---|---|---|---|---|---|"


def format_seconds(seconds):
    """Return a time with a unit that keeps three significant digits."""
    if seconds is None:
        return ""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def _timed_cells(row, ceiling):
    ours = f"{format_seconds(row['ours_median_s'])} ±{row['ours_spread']:.0%}"
    reference = ""
    if "reference_median_s" in row:
        reference = (f"{format_seconds(row['reference_median_s'])} "
                     f"±{row['reference_spread']:.0%}")
    gflops = fraction = ""
    if "ours_gflops" in row:
        gflops = f"{row['ours_gflops']:.1f}"
        if "reference_gflops" in row:
            gflops += f" ({row['reference_gflops']:.1f})"
        if ceiling and not row["ceiling"]:
            fraction = f"{row['ours_gflops'] / ceiling:.0%}"
    return ours, reference, gflops, fraction, format_seconds(row["first_s"]["ours"])


def _measured_cells(row):
    def value(number):
        if number is None:
            return ""
        return f"{number:.3g} {row['unit']}"

    return value(row["ours"]), value(row["reference"]), "", "", ""


def _verdict(row, ceiling):
    """Return the target cell: the target and whether this run met it."""
    checks = []
    ratio = row.get("ratio")
    if row.get("target_ratio") is not None and ratio is not None:
        checks.append((f"<= {row['target_ratio']:g}x", ratio <= row["target_ratio"]))
    if row.get("target_ceiling") is not None and ceiling and "ours_gflops" in row:
        met = row["ours_gflops"] / ceiling >= row["target_ceiling"]
        checks.append((f">= {row['target_ceiling']:.0%} of ceiling", met))
    if row.get("target_max") is not None:
        met = row["ours"] <= row["target_max"]
        checks.append((f"< {row['target_max']:g} {row['unit']}", met))
    return ", ".join(f"{text} {'met' if met else 'MISSED'}" for text, met in checks)


def ceiling_of(rows):
    """Return the best GFLOP/s of the ceiling cases in ``rows``, or None."""
    values = [row["ours_gflops"] for row in rows if row.get("ceiling")]
    return max(values) if values else None


def markdown_rows(threads, rows):
    """Return the table lines of one thread count's rows."""
    ceiling = ceiling_of(rows)
    lines = []
    for row in rows:
        if row["kind"] == "time":
            cells = _timed_cells(row, ceiling)
        else:
            cells = _measured_cells(row)
        ratio = f"{row['ratio']:.2f}x" if row.get("ratio") is not None else ""
        reference = cells[1]
        if reference:
            reference += f" ({row['reference_name']})"
        line = [str(threads), row["group"], row["name"], cells[0], reference, ratio,
                cells[2], cells[3], cells[4], _verdict(row, ceiling)]
        lines.append("| " + " | ".join(line) + " |")
    return lines


def markdown_table(runs):
    """Return the whole Markdown table of ``runs``, a list of (threads, rows)."""
    lines = [HEADER, RULE]
    for threads, rows in runs:
        lines += markdown_rows(threads, rows)
    return "\n".join(lines)
