"""rtcstate in the browser: the same core under Pyodide, a JavaScript adapter, a web page.

``bridge`` is the Python half that runs inside the page (a core Session behind a JSON interface
for JavaScript); ``static/`` holds the JavaScript adapter (ES modules) and the page; ``web``
serves the page, the adapter, the Pyodide runtime and the packages from the relay's port
(``rtcstate serve --web``). See docs/browser.md.
"""
