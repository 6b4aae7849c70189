"""The mcvision dashboard: ``streamlit run app_streamlit/app.py`` (or ``mcvision dashboard``).

Reads only the HTTP API (``$MCVISION_API_URL``, default ``http://127.0.0.1:8000``,
editable in the sidebar). Pages live in ``views/``; the HTTP client in
``client.py``; shared sidebar, banner and chart helpers in ``ui.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `import client, ui` from pages, however the app was started
    sys.path.insert(0, str(HERE))

import streamlit as st  # noqa: E402
import ui  # noqa: E402

st.set_page_config(page_title="mcvision", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    st.Page(
        HERE / "views" / "overview.py", title="Overview", icon=":material/insights:", default=True
    ),
    st.Page(HERE / "views" / "live.py", title="Live", icon=":material/videocam:"),
    st.Page(HERE / "views" / "zones.py", title="Zones", icon=":material/category:"),
    st.Page(
        HERE / "views" / "heatmap.py", title="Heatmap", icon=":material/local_fire_department:"
    ),
    st.Page(HERE / "views" / "journeys.py", title="Journeys", icon=":material/route:"),
    st.Page(HERE / "views" / "floor.py", title="Floor plan", icon=":material/map:"),
    st.Page(HERE / "views" / "visits.py", title="Visits", icon=":material/table_rows:"),
]

page = st.navigation(PAGES)
st.sidebar.markdown("### mcvision")
ui.sidebar()  # on an API failure: banner + retry, and the page stops here
page.run()
