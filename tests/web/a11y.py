"""Accessibility checks in the browser: axe-core (vendored, pinned: ``tests/web/vendor/axe-core``) plus
the project's own stricter rules that axe does not enforce at this level: touch targets of at least
44 CSS px, the visible text of a control inside its accessible name, exactly one ``h1``.
"""

from __future__ import annotations

from pathlib import Path

AXE_VERSION = "4.10.3"
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
MIN_TARGET = 44


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1/2.2 A and AA rules plus best practices) on the page as it is now;
    answers the violations of the given impacts, each with the selectors of its nodes."""
    if not page.evaluate("() => !!window.axe"):
        # evaluated through the DevTools protocol: the app's CSP (no inline script) stays on
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
    assert page.evaluate("() => axe.version") == AXE_VERSION
    # Entry animations (cards rising and fading in) finish first: axe measures colours as they are
    # painted, and a card half faded in has half its contrast. Endless ones (a spinner) are left.
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
        .map((a) => a.finished.catch(() => null))).then(() => true)""")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').slice(0, 200))}));
    }""")
    return [v for v in result if v["impact"] in impacts]


def small_targets(page) -> list[str]:
    """Visible buttons and stand-alone links smaller than 44x44 CSS px (links inside running text are
    exempt, as in WCAG 2.5.8)."""
    return page.evaluate("""(min) => {
        const out = [];
        for (const el of document.querySelectorAll('button, a[href], [role=button], input, select')) {
            const r = el.getBoundingClientRect();
            const st = getComputedStyle(el);
            if (!r.width || !r.height || st.visibility === 'hidden' || el.closest('[hidden], [inert]')) continue;
            if (el.tagName === 'A' && el.closest('p, figcaption, li.ref')) continue;
            if (el.classList.contains('skip')) continue;
            if (r.width < min - 0.5 || r.height < min - 0.5)
                out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} ${Math.round(r.width)}x${Math.round(r.height)}`);
        }
        return out;
    }""", MIN_TARGET)


def names_without_visible_text(page) -> list[str]:
    """Controls whose aria-label does not contain their visible text (WCAG 2.5.3, label in name)."""
    return page.evaluate("""() => {
        const norm = (s) => s.replace(/\\s+/g, ' ').trim().toLowerCase();
        const out = [];
        for (const el of document.querySelectorAll('button[aria-label], a[aria-label], [role=button][aria-label]')) {
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height) continue;
            const visible = norm(el.innerText || '');
            if (visible && !norm(el.getAttribute('aria-label')).includes(visible))
                out.push(`${el.id || el.className}: "${visible}" not in "${el.getAttribute('aria-label')}"`);
        }
        return out;
    }""")


def check_screen(page) -> dict:
    """Everything the app must pass on the current screen: answers what fails (all empty = pass)."""
    return {
        "axe": axe_violations(page),
        "small_targets": small_targets(page),
        "names": names_without_visible_text(page),
        "h1": page.locator("h1").count(),
    }
