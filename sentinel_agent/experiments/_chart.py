"""The report's chart: allowed, blocked and held calls per scenario and policy, as one inline SVG.

One row group per scenario, one stacked bar per policy (green allowed, red
blocked, amber held), and the verdict after each bar (a tick when the
scenario's expectation held). Plain SVG 1.1 with its own fonts and colours,
so it renders the same inside the HTML report, on GitHub and in a browser.

It must never reference an external asset (fonts, scripts, images).
"""

from __future__ import annotations

from html import escape

from sentinel_agent.experiments._results import RunReport

__all__ = ["COLOURS", "render_chart"]

COLOURS = {"allowed": "#2e7d32", "blocked": "#c62828", "held": "#f9a825", "pass": "#2e7d32", "fail": "#c62828"}
_BAR, _GAP, _GROUP_GAP = 13, 3, 12
_LABEL_W, _POLICY_W, _PLOT_W, _VERDICT_W = 190, 70, 480, 160
_KIND_MARK = {"benign": "task", "attack": "attack", "approval": "approval"}


def render_chart(report: RunReport, *, title: str = "Tool calls per scenario and policy") -> str:
    policies = [policy.name for policy in report.policies]
    most = max((r.allowed + r.blocked + r.held for r in report.results), default=1) or 1
    unit = _PLOT_W / most
    group_h = len(policies) * (_BAR + _GAP) - _GAP
    top = 64
    height = top + len(report.scenarios) * (group_h + _GROUP_GAP) + 40
    width = _LABEL_W + _POLICY_W + _PLOT_W + _VERDICT_W
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11" role="img" aria-label="{escape(title)}">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="22" font-size="15" font-weight="bold" fill="#212121">{escape(title)}</text>',
        f'<text x="12" y="40" fill="#616161">agent: {escape(report.agent)} · {len(report.scenarios)} scenarios · '
        f"{len(policies)} policies · state: {escape(report.state_store)}</text>",
    ]
    legend_x = width - 330
    for index, (name, colour) in enumerate((("allowed", COLOURS["allowed"]), ("blocked", COLOURS["blocked"]), ("held", COLOURS["held"]))):
        x = legend_x + index * 80
        out.append(f'<rect x="{x}" y="14" width="12" height="12" fill="{colour}"/><text x="{x + 16}" y="24" fill="#212121">{name}</text>')
    out.append(f'<text x="{legend_x}" y="44" fill="#616161">✓ expectation met   ✗ not met</text>')
    y = top
    for row, scenario in enumerate(report.scenarios):
        if row % 2 == 0:
            out.append(f'<rect x="0" y="{y - _GROUP_GAP / 2}" width="{width}" height="{group_h + _GROUP_GAP}" fill="#f5f5f5"/>')
        label_y = y + group_h / 2 + 4
        out.append(f'<text x="12" y="{label_y - 6}" font-weight="bold" fill="#212121">{escape(scenario.id)}</text>')
        out.append(f'<text x="12" y="{label_y + 7}" fill="#757575">{escape(_KIND_MARK[scenario.kind])}'
                   f'{" · injected" if scenario.environment.injected else ""}</text>')
        for index, policy in enumerate(policies):
            bar_y = y + index * (_BAR + _GAP)
            out.append(f'<text x="{_LABEL_W + _POLICY_W - 6}" y="{bar_y + _BAR - 3}" text-anchor="end" fill="#616161">{escape(policy)}</text>')
            result = report.result(scenario.id, policy)
            if result is None:
                continue
            bar_x = float(_LABEL_W + _POLICY_W)
            for kind, count in (("allowed", result.allowed), ("blocked", result.blocked), ("held", result.held)):
                if count:
                    out.append(f'<rect x="{bar_x:.1f}" y="{bar_y}" width="{count * unit:.1f}" height="{_BAR}" fill="{COLOURS[kind]}">'
                               f"<title>{escape(policy)}: {count} {kind}</title></rect>")
                    bar_x += count * unit
            mark, colour = ("✓", COLOURS["pass"]) if result.verdict.passed else ("✗", COLOURS["fail"])
            out.append(f'<text x="{_LABEL_W + _POLICY_W + _PLOT_W + 10}" y="{bar_y + _BAR - 3}" fill="{colour}">'
                       f"{mark} {escape(result.verdict.summary)}</text>")
        y += group_h + _GROUP_GAP
    axis_y = y + 4
    out.append(f'<line x1="{_LABEL_W + _POLICY_W}" y1="{axis_y}" x2="{_LABEL_W + _POLICY_W + _PLOT_W}" y2="{axis_y}" stroke="#9e9e9e"/>')
    for tick in range(0, most + 1, max(1, most // 6)):
        tx = _LABEL_W + _POLICY_W + tick * unit
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#616161">{tick}</text>')
    out.append(f'<text x="{_LABEL_W + _POLICY_W + _PLOT_W}" y="{axis_y + 28}" text-anchor="end" fill="#616161">tool calls</text>')
    out.append("</svg>")
    return "\n".join(out)
