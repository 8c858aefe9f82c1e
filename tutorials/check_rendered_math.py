"""Check, in a real headless browser with the network off, that the rendered tutorial pages typeset their math.

    python tutorials/check_rendered_math.py                  # every page of docs/tutorials/
    python tutorials/check_rendered_math.py docs/tutorials/00_the_path.html

For each page, Chromium (``/usr/bin/chromium``, Debian's ``chromium`` package, or ``--browser PATH``) is driven by
Playwright (``pip install playwright``; no browser download: the system Chromium is used) with every request other
than the page's own file refused, and the script asserts that

* the browser knows MathML (``MathMLElement``; ``tutorials/render.py`` converts $...$ and $$...$$ to MathML at
  build time) and every formula of the page has a laid-out box of non-zero width and height (a page without
  formulas passes this point; the run fails if no page checked has one);
* no text node still shows TeX delimiters ($$ or \\( ) and no formula was left as raw LaTeX;
* the page asked for nothing beyond itself (no CDN script, font or style).

It prints one line per page and exits 1 if any page fails. A figure in a page is a data URI, so it needs no request.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent

#: what the page's script measures: formulas, their boxes, and text that still shows TeX
_PROBE = """() => {
  const maths = Array.from(document.querySelectorAll('math'));
  const boxes = maths.map(m => { const r = m.getBoundingClientRect(); return [r.width, r.height]; });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  while (walker.nextNode()) {
    const t = walker.currentNode.textContent;
    const inCode = walker.currentNode.parentElement.closest('pre, code, .jp-OutputArea, .output_area');
    if (!inCode && (t.includes('$$') || t.includes('\\\\(') || /\\$[^$\\s][^$]*\\$/.test(t))) raw.push(t.slice(0, 80));
  }
  return {mathml: typeof MathMLElement !== 'undefined', boxes: boxes, raw: raw};
}"""


def check_page(browser, page_path: pathlib.Path) -> list:
    """The problems found on one page (an empty list when its math is typeset offline)."""
    url = page_path.resolve().as_uri()
    requests = []
    context = browser.new_context(offline=True)
    page = context.new_page()

    def route(r):
        if r.request.url == url:
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    found = page.evaluate(_PROBE)
    context.close()
    problems = []
    if not found["mathml"]:
        problems.append("the browser has no MathML support")
    flat = [b for b in found["boxes"] if b[0] <= 0 or b[1] <= 0]
    if flat:
        problems.append(f"{len(flat)} of {len(found['boxes'])} formulas have an empty box")
    if found["raw"]:
        problems.append(f"text still shows TeX: {found['raw'][:3]}")
    if requests:
        problems.append(f"the page asked for {len(requests)} resources beyond itself, e.g. {requests[0]}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="*", type=pathlib.Path, help="HTML pages [docs/tutorials/*.html]")
    ap.add_argument("--browser", default="/usr/bin/chromium", help="a Chromium executable [/usr/bin/chromium]")
    args = ap.parse_args(argv)
    pages = args.pages or sorted((HERE.parent / "docs" / "tutorials").glob("*.html"))
    if not pages:
        ap.error("no pages: render them first with tutorials/render.py")
    from playwright.sync_api import sync_playwright

    failed, formulas = 0, 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.browser, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                           "--disable-component-update", "--no-first-run"])
        for path in pages:
            problems = check_page(browser, path)
            failed += bool(problems)
            count = path.read_text(encoding="utf-8").count("<math")
            formulas += count
            verdict = f"ok, {count} formulas typeset offline" if count else "ok, no formulas"
            verdict = "FAIL " + "; ".join(problems) if problems else verdict
            print(f"{path.name}: {verdict}")
        browser.close()
    if not formulas:
        print("no page checked holds a formula: nothing was shown to be typeset")
    return 1 if failed or not formulas else 0


if __name__ == "__main__":
    sys.exit(main())
