"""The catalogue panel's CSW/OpenSearch catalogues, AOIs typed as WKT or taken from the notebook's
map, "Use as input" into the packaging wizard and "Insert as code" without a notebook, in a real
browser, in the JupyterLab the demo user gets through the hub of the local platform.

The CSW is a real pycsw 2.6.2 with the demo scenes (tests/catalogue_endpoints.py); it listens on
127.0.0.1, which the panel refuses unless an administrator allows its origin: the demo user's
server is given that setting (CatalogueGuard.allowed_origins) for this module.
Screenshots: test-artifacts/catalogue-*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import nbformat
import pytest
from playwright.sync_api import expect
from shapely.geometry import box

from browser import browser_page, hub_login, open_notebook, run_all_cells, wait_kernel_idle
from catalogue_endpoints import demo_pycsw
from conftest import ARTIFACTS
from extension_install import install_for_user
from security.ades_jobs import deploy, publish_image
from security.conftest import User

pytestmark = [pytest.mark.platform,
              pytest.mark.filterwarnings("ignore::DeprecationWarning:pycsw")]

USER = "demo"
FOLDER = "catalogue-panel"
#: Inside the Trasimeno scenes (pycsw's Atom rounds boxes to 2 decimals: away from the edges).
AOI = (12.0, 43.0, 12.2, 43.2)
WKT = "POLYGON ((12 43, 12.2 43, 12.2 43.2, 12 43.2, 12 43))"
PICK_TOOL = "panel-pick-tool"
#: The AOI's outline on the panel's map (map.tsx: not interactive, its own colour).
AOI_PATH = "path[stroke='#2e7d32']"


@pytest.fixture(scope="module")
def pycsw(tmp_path_factory):
    with demo_pycsw(tmp_path_factory.mktemp("browser-csw")) as found:
        yield found


@pytest.fixture(scope="module")
def demo_user(platform, pycsw) -> Iterator[User]:
    """The demo user, whose server (restarted) allows pycsw's origin; afterwards the setting,
    the catalogues the tests added and the saved layout go."""
    token = platform.eopde("token", USER).stdout.strip()
    install_for_user(platform, USER, token)  # stops the server: it reads the setting below
    home = platform.settings().users_dir / USER
    config = home / ".jupyter" / "jupyter_server_config.json"  # (the .d folder: switches only)
    kept = config.read_text() if config.exists() else None
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(pycsw[0].url))
    # and the records' files (their browse graphics: test_..._browse_graphic)
    files = "{0.scheme}://{0.netloc}".format(urlsplit(pycsw[1][0]["assets"]["thumbnail"]["href"]))
    config.write_text(json.dumps({**json.loads(kept or "{}"),
                                  "CatalogueGuard": {"allowed_origins": [origin, files]}}))
    (home / FOLDER).mkdir(exist_ok=True)
    yield User(USER, token, platform)
    if kept is None:
        config.unlink()
    else:
        config.write_text(kept)
    settings = home / ".jupyter" / "lab" / "user-settings" / "eopde" / \
        "catalogue.jupyterlab-settings"
    settings.unlink(missing_ok=True)
    for saved in (home / ".jupyter" / "lab" / "workspaces").glob("*.jupyterlab-workspace"):
        saved.unlink()


def expected(items) -> list[str]:
    return sorted(i["id"] for i in items if box(*i["bbox"]).intersects(box(*AOI)))


def write_notebook(platform, name: str, cells: list[str], metadata: dict | None = None) -> str:
    path = f"{FOLDER}/{name}"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    if metadata and "eopde" in metadata:  # the wizard's notebook: its parameters cell
        notebook.cells[0].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {"name": "eopde", "display_name": "EO Python (eopde)",
                                       "language": "python"}
    notebook.metadata.update(metadata or {})
    nbformat.write(notebook, platform.settings().users_dir / USER / path)
    return path


def open_panel(page) -> object:
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")
    page.evaluate("() => window.jupyterapp.shell.activateById('eopde-catalogue')")
    panel = page.locator("#eopde-catalogue")
    panel.wait_for(state="visible", timeout=30_000)
    return panel


def search(panel, count: int) -> list[str]:
    panel.get_by_role("button", name="Search").click()
    rows = panel.locator(".eopde-Results-row")
    rows.nth(count - 1).wait_for(timeout=60_000)
    return rows.evaluate_all("rs => rs.map(r => r.dataset.id)")


def cell_source(page, index: int) -> str:
    return page.evaluate("""i => window.jupyterapp.shell.currentWidget.content.model
        .cells.get(i).sharedModel.getSource()""", index)


def run_and_print_ids(page) -> list[str]:
    """Add a cell printing `found.ids()`, run the notebook, read what it printed."""
    page.evaluate("""() => { const m = window.jupyterapp.shell.currentWidget.content.model;
        m.sharedModel.insertCell(m.cells.length, {cell_type: 'code',
            source: 'import json\\nprint(json.dumps(found.ids()))'}); }""")
    run_all_cells(page, timeout=180)
    printed = page.evaluate("""() => { const m = window.jupyterapp.shell.currentWidget.content
        .model; return m.cells.get(m.cells.length - 1).outputs.get(0).toJSON().text; }""")
    return json.loads("".join(printed))


def shut_down(page) -> None:
    """No kernel left running into the next tests of this user."""
    page.evaluate("""async () => {
        for (const w of [...window.jupyterapp.shell.widgets('main')]) {
            if (w.sessionContext) { await w.sessionContext.shutdown(); await w.context.save(); }
        }
    }""")


def test_a_csw_catalogue_searched_with_a_wkt_area(platform, demo_user, pycsw):
    server, items = pycsw
    want = expected(items)
    assert len(want) == 3
    path = write_notebook(platform, "csw.ipynb", [""])
    with browser_page(ARTIFACTS, "catalogue-csw-last") as page:
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, USER, path)
        panel = open_panel(page)
        panel.locator(".eopde-Catalogue-add summary").click()
        panel.get_by_label("Kind of catalogue to add").select_option("csw")
        panel.get_by_label("Catalogue URL to add").fill(server.url)
        before = server.count("GetCapabilities")
        panel.get_by_role("button", name="Add").click()
        page.wait_for_function("""() => document.querySelector('#eopde-catalogue-url')
            .selectedOptions[0]?.textContent.endsWith('(CSW)')""", timeout=30_000)
        for _ in range(60):  # the panel asks what it is when it is picked
            if server.count("GetCapabilities") > before:
                break
            page.wait_for_timeout(500)
        assert server.count("GetCapabilities") > before

        panel.locator(".eopde-Catalogue-aoi-more summary").click()
        panel.get_by_label("Area as WKT").fill(WKT)
        panel.get_by_role("button", name="Show").click()
        page.wait_for_function(f"""() => document.querySelector('#eopde-catalogue .eopde-Map')
            .querySelectorAll("{AOI_PATH}").length === 1""", timeout=30_000)
        ids = search(panel, len(want))
        assert sorted(ids) == want
        assert panel.locator(".eopde-Catalogue-error").count() == 0
        # the WKT area and the three footprints
        assert panel.locator(f".eopde-Map {AOI_PATH}").count() == 1
        assert panel.locator(".eopde-Map path.leaflet-interactive").count() == len(want)
        page.screenshot(path=str(ARTIFACTS / "catalogue-csw.png"))

        panel.get_by_role("button", name="Insert as code").click()
        page.wait_for_function("""() => window.jupyterapp.shell.currentWidget.content.model
            .cells.get(0).sharedModel.getSource().startsWith('from eopde.catalogue')""")
        assert cell_source(page, 0) == (
            "from eopde.catalogue import CSWCatalogue, search\n\n"
            f"found = search(url=CSWCatalogue({server.url!r}), intersects={WKT!r}, "
            "max_items=100)\nfound")
        assert run_and_print_ids(page) == ids
        shut_down(page)


def test_the_area_drawn_on_the_notebook_map(platform, demo_user):
    path = write_notebook(platform, "map.ipynb", [
        "from eopde.maps import Map\n\nm = Map(basemap=False)\nm",
        f"m.aoi = {AOI!r}"])
    with browser_page(ARTIFACTS, "catalogue-notebook-aoi-last") as page:
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, USER, path)
        panel = open_panel(page)
        notice = panel.locator(".eopde-Catalogue-notice")
        panel.locator(".eopde-Catalogue-aoi-more summary").click()
        # a kernel without a map yet: the panel says so
        panel.get_by_role("button", name="From the notebook's map").click()
        notice.wait_for(timeout=30_000)
        assert notice.inner_text() == (
            f"No eopde map in {path}: make one (eopde.maps.Map()) and draw an area.")

        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
        page.wait_for_function("""() => window.jupyterapp.shell.currentWidget.content.model
            .cells.get(0).executionCount > 0""", timeout=120_000)
        wait_kernel_idle(page, timeout=60)
        panel.get_by_role("button", name="From the notebook's map").click()
        page.wait_for_function("""text => (document.querySelector(
            '#eopde-catalogue .eopde-Catalogue-notice') || {innerText: ''}).innerText
            .startsWith(text)""",
                               arg=f"The map of {path} has no area drawn", timeout=30_000)

        run_all_cells(page, timeout=120)
        panel.get_by_role("button", name="From the notebook's map").click()
        page.wait_for_function("""() => document.querySelector('#eopde-bbox').value !== ''""",
                               timeout=30_000)
        assert notice.inner_text() == "The area drawn on the notebook's map."
        typed = [float(v) for v in panel.locator("#eopde-bbox").input_value().split(",")]
        assert typed == list(AOI)
        assert panel.locator(f".eopde-Map {AOI_PATH}").count() == 1
        page.screenshot(path=str(ARTIFACTS / "catalogue-notebook-aoi.png"))
        shut_down(page)


def _pick_tool() -> dict:
    """A process with one STAC item input (a CWL Directory: a URI in its description)."""
    from security.ades_jobs import sh_process

    cwl = sh_process(PICK_TOOL, "true")
    workflow, tool = cwl["$graph"]
    workflow["inputs"] = {"scene": {"type": "Directory", "label": "Scene"}}
    workflow["steps"]["run"]["in"] = {"scene": "scene"}
    tool["inputs"] = {"scene": "Directory"}
    return cwl


def activate_notebook(page, path: str) -> None:
    page.evaluate("""path => { const shell = window.jupyterapp.shell;
        shell.activateById([...shell.widgets('main')].find(
            w => w.context && w.context.path === path).id); }""", path)


def test_use_as_input_brings_the_wizard_forward_on_the_step_with_item_inputs(
        platform, demo_user, tmp_path):
    """"Use ... as input": without a wizard the panel says so; with one (hidden behind its
    notebook, on a step without item inputs) the wizard comes forward on Execute (a process is
    deployed) with the item in the process's one item input; on the Test run, whose package
    has two item inputs, the wizard asks which, proposing the empty one."""
    publish_image(platform, tmp_path)
    deploy(demo_user, _pick_tool())
    path = write_notebook(platform, "wizard.ipynb", [
        "from eopde.outputs import StacItem\n\n"
        'before: StacItem = "before"  # Scene before the event\n'
        'after: StacItem = "after"  # Scene after the event'],
        {"eopde": {"step": 1, "ades": "local", "process": PICK_TOOL}})
    items = f"{platform.url('catalogue')}/collections/sentinel-2-l2a/items"
    with browser_page(ARTIFACTS, "catalogue-use-as-input-last") as page:
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, USER, path)
        panel = open_panel(page)
        panel.locator("#eopde-bbox").fill(", ".join(map(str, AOI)))
        ids = search(panel, 3)
        use = panel.locator(".eopde-Catalogue-use")

        def use_item(item_id: str) -> None:
            panel.locator(f".eopde-Results-row[data-id='{item_id}']").click()
            use.get_by_role("button", name=f"Use {item_id} as input").click()

        # no wizard open: the panel says so, under the button
        use_item(ids[1])
        expect(use.get_by_role("alert")).to_have_text(
            f"No packaging wizard is open to take {ids[1]}: open one on your notebook (Package "
            "on its toolbar), then use the item again.")

        # a wizard on Metadata, behind its notebook's tab
        page.evaluate("""() => window.jupyterapp.commands.execute('eopde:open-wizard')
            .then(() => true)""")
        wizard = page.locator(".eopde-Wizard")
        title = wizard.locator("#eopde-step-title")
        expect(title).to_have_text("2. Metadata", timeout=60_000)
        activate_notebook(page, path)
        expect(wizard).to_be_hidden()

        # forward, on Execute, the item in the process's one item input
        use_item(ids[1])
        expect(title).to_have_text("7. Execute")
        scene = wizard.locator("#eopde-inputs-scene")
        expect(scene).to_have_value(f"{items}/{ids[1]}", timeout=60_000)
        expect(scene).to_be_visible()
        expect(use.get_by_role("status")).to_have_text(
            f"{ids[1]} went to Package wizard.ipynb, step 7. Execute.")
        page.screenshot(path=str(ARTIFACTS / "catalogue-use-as-input.png"))

        # the Test run (the notebook's package): two item inputs, the wizard asks which
        wizard.get_by_role("button", name="5. Test run").click()
        before = wizard.locator("#eopde-inputs-before")
        after = wizard.locator("#eopde-inputs-after")
        before.wait_for(timeout=120_000)
        activate_notebook(page, path)
        use_item(ids[0])
        choice = wizard.get_by_role("group", name=f"Use {ids[0]} from the catalogue panel as")
        expect(choice).to_be_visible()
        expect(title).to_have_text("5. Test run")
        labels = choice.get_by_role("button").all_inner_texts()
        assert labels == ["Scene before the event (before)", "Scene after the event (after)",
                          "Not now"]
        expect(choice.get_by_role("button", name=labels[0])).to_be_focused()
        page.screenshot(path=str(ARTIFACTS / "catalogue-use-as-input-choice.png"))
        choice.get_by_role("button", name=labels[1]).click()
        expect(after).to_have_value(f"{items}/{ids[0]}")
        expect(before).to_have_value("")
        expect(choice).to_have_count(0)
        # the next one: the empty input is proposed, Enter takes it
        use_item(ids[2])
        choice = wizard.get_by_role("group", name=f"Use {ids[2]} from the catalogue panel as")
        expect(choice.get_by_role("button", name=labels[0])).to_be_focused()
        page.keyboard.press("Enter")
        expect(before).to_have_value(f"{items}/{ids[2]}")
        expect(after).to_have_value(f"{items}/{ids[0]}")
        expect(choice).to_have_count(0)
        kept = page.evaluate("""path => window.jupyterapp.shell.widgets('main')
            .find(w => w.context && w.context.path === path).model.getMetadata('eopde')""",
                             path)
        assert kept["inputs"] == {"scene": f"{items}/{ids[1]}", "after": f"{items}/{ids[0]}",
                                  "before": f"{items}/{ids[2]}"}
        shut_down(page)
    with demo_user.client() as c:
        c.delete(demo_user.ades(f"/processes/{PICK_TOOL}"))


def test_insert_as_code_without_a_notebook_opens_one(platform, demo_user):
    before = {p.name for p in (platform.settings().users_dir / USER).glob("Untitled*.ipynb")}
    with browser_page(ARTIFACTS, "catalogue-insert-new-last") as page:
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        page.goto(f"{platform.hub_url}/user/{USER}/lab?reset")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                               timeout=90_000)
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
        page.wait_for_function("""() => ![...window.jupyterapp.shell.widgets('main')]
            .some(w => w.sessionContext)""", timeout=30_000)
        panel = open_panel(page)
        panel.locator("#eopde-bbox").fill(", ".join(map(str, AOI)))
        ids = search(panel, 3)
        panel.get_by_role("button", name="Insert as code").click()
        page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
            const cells = w?.content?.model?.cells;  // (the launcher has a model, no cells)
            return !!cells?.length && cells.get(0).sharedModel.getSource()
                .startsWith('from eopde.catalogue import search'); }""", timeout=90_000)
        new = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        assert new.startswith("Untitled") and new.endswith(".ipynb") and new not in before
        kernel = page.evaluate("""() => window.jupyterapp.shell.currentWidget.sessionContext
            .kernelPreference.name""")
        assert kernel == "eopde"
        wait_kernel_idle(page, timeout=120)
        assert run_and_print_ids(page) == ids
        page.screenshot(path=str(ARTIFACTS / "catalogue-insert-new.png"))
        shut_down(page)
    (platform.settings().users_dir / USER / new).unlink()


def add_catalogue(panel, kind: str, url: str) -> None:
    panel.locator(".eopde-Catalogue-add summary").click()
    panel.get_by_label("Kind of catalogue to add").select_option(kind)
    panel.get_by_label("Catalogue URL to add").fill(url)
    panel.get_by_role("button", name="Add").click()


def test_opensearch_rows_show_the_records_browse_graphic(platform, demo_user, pycsw):
    """An OpenSearch catalogue (pycsw's): the panel says what it offers in place of the
    collection list; each row shows its record's browse graphic, which the browser gets from
    the Jupyter server's guarded route, never from the record's URL."""
    server, items = pycsw
    want = expected(items)
    files = "{0.scheme}://{0.netloc}".format(urlsplit(items[0]["assets"]["thumbnail"]["href"]))
    path = write_notebook(platform, "thumbnails.ipynb", [""])
    with browser_page(ARTIFACTS, "catalogue-thumbnails-last") as page:
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, USER, path)
        add_catalogue(open_panel(page), "opensearch", server.opensearch_url)
        panel = page.locator("#eopde-catalogue")
        notes = panel.get_by_role("note", name="What this catalogue offers")
        expect(notes).to_contain_text("An OpenSearch catalogue lists no collections",
                                      timeout=60_000)
        expect(notes).to_contain_text("It cannot sort")
        expect(notes).to_contain_text("geo:box")
        expect(panel.get_by_label("Collection", exact=True)).to_have_count(0)

        panel.locator("#eopde-bbox").fill(", ".join(map(str, AOI)))
        ids = search(panel, len(want))
        assert sorted(ids) == want
        images = panel.locator(".eopde-Results-thumbnail img")
        expect(images).to_have_count(len(want))
        sources = images.evaluate_all("is => is.map(i => i.src)")
        assert all(f"/user/{USER}/eopde/catalogue/thumbnail/" in s for s in sources), sources
        # what the route answers, asked with the page's cookies
        answered = [(r.status, r.headers["content-type"])
                    for r in map(page.request.get, sources)]
        assert answered == [(200, "image/png")] * len(want), answered
        images.first.scroll_into_view_if_needed()  # (loading="lazy": shown rows only)
        page.wait_for_function("""() => { const imgs = [...document.querySelectorAll(
            '#eopde-catalogue .eopde-Results-thumbnail img')];
            return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
                               timeout=60_000)
        for item_id in ids:
            expect(panel.get_by_role("img", name=f"Thumbnail of {item_id}")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "catalogue-thumbnails.png"))
        shut_down(page)
    assert not [u for u in asked if u.startswith(files)], "the browser went to the records' URLs"


#: A wizard's step and its item input `scene` (Execute's form), found by the wizard's tab label.
WIZARD_STATE = """label => { const w = [...window.jupyterapp.shell.widgets('main')]
    .find(w => w.title.label === label);
    const shown = window.jupyterapp.shell.currentWidget;
    return {step: w.node.querySelector('#eopde-step-title')?.innerText ?? null,
            scene: w.node.querySelector('#eopde-inputs-scene')?.value ?? null,
            shown: shown?.title.label ?? null}; }"""


def activate_tab(page, label: str) -> None:
    page.evaluate("""label => { const shell = window.jupyterapp.shell;
        shell.activateById([...shell.widgets('main')].find(w => w.title.label === label).id);
        }""", label)


def open_wizard_of(page, path: str) -> None:
    page.evaluate("""path => window.jupyterapp.commands.execute('eopde:open-wizard', {path})
        .then(() => true)""", path)


def test_use_as_input_with_two_wizards_goes_to_the_one_shown_else_the_notebooks(
        platform, demo_user, tmp_path):
    """Two wizards open, on two notebooks (extension/src/handover.ts targetWizard): an item goes
    to the wizard shown; with a notebook shown, to that notebook's wizard; with neither (a text
    file shown), to the wizard of the notebook worked in last. The other wizard keeps its
    input."""
    publish_image(platform, tmp_path)
    deploy(demo_user, _pick_tool())
    cell = 'from eopde.outputs import StacItem\n\nscene: StacItem = "scene"  # Scene'
    meta = {"eopde": {"step": 1, "ades": "local", "process": PICK_TOOL}}
    first = write_notebook(platform, "first.ipynb", [cell], meta)
    second = write_notebook(platform, "second.ipynb", [cell], meta)
    notes = f"{FOLDER}/notes.txt"
    (platform.settings().users_dir / USER / notes).write_text("not a notebook\n")
    items = f"{platform.url('catalogue')}/collections/sentinel-2-l2a/items"
    a, b = "Package first.ipynb", "Package second.ipynb"
    try:
        with browser_page(ARTIFACTS, "catalogue-two-wizards-last") as page:
            hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
            open_notebook(page, platform.hub_url, USER, first)
            # JupyterLab's second opening of the URL's notebook is over (it would bring the
            # first wizard forward again: extension/src/urlopen.ts)
            page.locator("#filebrowser:not(.jp-mod-restoring)").wait_for(state="attached",
                                                                         timeout=60_000)
            open_wizard_of(page, first)
            open_wizard_of(page, second)
            page.evaluate("""path => window.jupyterapp.commands.execute('docmanager:open',
                {path}).then(() => true)""", notes)
            for label in (a, b):
                page.wait_for_function(f"label => ({WIZARD_STATE})(label).step === "
                                       "'2. Metadata'", arg=label, timeout=60_000)
            panel = open_panel(page)
            panel.locator("#eopde-bbox").fill(", ".join(map(str, AOI)))
            ids = search(panel, 3)
            use = panel.locator(".eopde-Catalogue-use")

            def use_item(item_id: str, label: str) -> dict:
                """Use the item; the state of the wizard `label` once its input has it."""
                panel.locator(f".eopde-Results-row[data-id='{item_id}']").click()
                use.get_by_role("button", name=f"Use {item_id} as input").click()
                expect(use.get_by_role("status")).to_have_text(
                    f"{item_id} went to {label}, step 7. Execute.", timeout=30_000)
                page.wait_for_function(f"([label, href]) => ({WIZARD_STATE})(label).scene "
                                       "=== href", arg=[label, f"{items}/{item_id}"],
                                       timeout=60_000)
                return page.evaluate(WIZARD_STATE, label)

            # the wizard shown (the second), not the one of the notebook worked in last
            activate_tab(page, "first.ipynb")
            page.wait_for_function("""() => window.jupyterapp.shell.currentWidget
                .context?.path.endsWith('first.ipynb')""")
            activate_tab(page, b)
            assert use_item(ids[0], b) == {"step": "7. Execute", "scene": f"{items}/{ids[0]}",
                                           "shown": b}
            assert page.evaluate(WIZARD_STATE, a)["step"] == "2. Metadata"
            # the first notebook shown: its wizard, brought forward
            activate_tab(page, "first.ipynb")
            assert use_item(ids[1], a) == {"step": "7. Execute", "scene": f"{items}/{ids[1]}",
                                           "shown": a}
            # the second notebook worked in, then the text file shown: the second's wizard
            activate_tab(page, "second.ipynb")
            page.wait_for_function("""() => window.jupyterapp.shell.currentWidget
                .context?.path.endsWith('second.ipynb')""")
            activate_tab(page, "notes.txt")
            page.wait_for_function("""() => window.jupyterapp.shell.currentWidget
                .title.label === 'notes.txt'""")
            assert use_item(ids[2], b)["shown"] == b
            assert page.evaluate(WIZARD_STATE, a)["scene"] == f"{items}/{ids[1]}"
            page.screenshot(path=str(ARTIFACTS / "catalogue-two-wizards.png"))
            shut_down(page)
    finally:
        with demo_user.client() as c:
            c.delete(demo_user.ades(f"/processes/{PICK_TOOL}"))


def test_use_as_input_on_a_process_without_item_input_says_it_cannot_take_the_item(
        platform, demo_user, tmp_path):
    """The wizard's deployed process takes no STAC item: the item goes to Execute, whose form
    says it cannot use it and changes no input; Dismiss takes the notice away."""
    from security.ades_jobs import sh_process

    tool = "panel-no-item-tool"
    publish_image(platform, tmp_path)
    deploy(demo_user, sh_process(tool, "true", ("name",)))
    path = write_notebook(platform, "no-item.ipynb", [
        'from eopde.outputs import StacItem\n\nscene: StacItem = "scene"  # Scene'],
        {"eopde": {"step": 6, "ades": "local", "process": tool, "inputs": {"name": "Ada"}}})
    try:
        with browser_page(ARTIFACTS, "catalogue-no-item-input-last") as page:
            hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
            open_notebook(page, platform.hub_url, USER, path)
            open_wizard_of(page, path)
            wizard = page.locator(".eopde-Wizard")
            name = wizard.locator("#eopde-inputs-name")
            expect(name).to_have_value("Ada", timeout=60_000)
            panel = open_panel(page)
            panel.locator("#eopde-bbox").fill(", ".join(map(str, AOI)))
            item_id = search(panel, 3)[0]
            panel.locator(f".eopde-Results-row[data-id='{item_id}']").click()
            use = panel.locator(".eopde-Catalogue-use")
            use.get_by_role("button", name=f"Use {item_id} as input").click()
            expect(use.get_by_role("status")).to_have_text(
                f"{item_id} went to Package no-item.ipynb, step 7. Execute.")
            notice = wizard.locator(".eopde-Offer")
            expect(notice).to_have_text(
                f"{item_id} (from the catalogue panel) cannot be used here: these inputs take "
                "no STAC item. Dismiss", timeout=30_000)
            assert notice.get_attribute("role") == "alert"
            expect(name).to_have_value("Ada")
            page.screenshot(path=str(ARTIFACTS / "catalogue-no-item-input.png"))
            notice.get_by_role("button", name="Dismiss").click()
            expect(notice).to_have_count(0)
            expect(name).to_have_value("Ada")
            kept = page.evaluate("""path => window.jupyterapp.shell.widgets('main')
                .find(w => w.context && w.context.path === path).model.getMetadata('eopde')""",
                                 path)
            assert kept["inputs"] == {"name": "Ada"}
            shut_down(page)
    finally:
        with demo_user.client() as c:
            c.delete(demo_user.ades(f"/processes/{tool}"))
