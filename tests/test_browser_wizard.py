"""The packaging wizard in a real browser, in the JupyterLab a user gets through the hub of the
local platform: open the NDVI tutorial notebook, open the wizard from the notebook's toolbar, go
through steps 1-4; a bad parameter type shows the library's message on that field; then steps
5-9 to a successful job and published results (items on the shared map, an area drawn in the
item picker), and the Deploy step's empty state when no ADES is configured. Screenshots of each step are kept in test-artifacts/wizard-*.png."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from browser import browser_page, hub_login, open_notebook
from conftest import ARTIFACTS
from extension_install import REPO, install_for_user
from workspace_helpers import drop_collections

pytestmark = pytest.mark.platform

NOTEBOOK = "tutorials/apps/ndvi.ipynb"
USER = "demo"


@pytest.fixture(scope="module")
def installed(platform) -> None:
    """This checkout's build of the extension, in the demo user's JupyterLab."""
    install_for_user(platform, USER, platform.eopde("token", USER).stdout.strip())


@pytest.fixture
def wizard_user(platform, installed) -> Iterator[str]:
    """The demo user with the NDVI tutorial as it is shipped (the tests change their copy: its
    parameters cell and the wizard's choices in its metadata); put back afterwards too."""
    copy = platform.settings().users_dir / USER / NOTEBOOK
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "notebooks" / "apps" / "ndvi.ipynb", copy)
    yield USER
    shutil.copyfile(REPO / "notebooks" / "apps" / "ndvi.ipynb", copy)


def open_fresh(page, platform, user: str) -> None:
    """Log in and open the NDVI notebook in a JupyterLab whose workspace starts empty: a
    workspace left by an earlier test restores its tabs while this one opens the wizard, and
    the restored notebook was seen taking the place of the wizard's tab."""
    hub_login(page, platform.hub_url, user, platform.secrets["demo_password"])
    page.goto(f"{platform.hub_url}/user/{user}/lab?reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    open_notebook(page, platform.hub_url, user, NOTEBOOK)


def open_wizard(page):
    """Click the notebook's Package button; the wizard, shown."""
    toolbar_button(page).click()
    wizard = page.locator(".eopde-Wizard")
    wizard.wait_for(timeout=60_000)
    url_opened(page)
    expect(wizard).to_be_visible()
    return wizard


def url_opened(page) -> None:
    """Wait until JupyterLab has opened the notebook the page's URL names a second time (the
    layout restorer shows it first; the file browser opens it again once it has gone to its
    folder, then drops jp-mod-restoring), which activates that notebook again: a wizard opened
    before must come forward again (extension/src/urlopen.ts)."""
    page.locator("#filebrowser:not(.jp-mod-restoring)").wait_for(state="attached",
                                                                 timeout=60_000)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"wizard-{name}.png"))


def next_step(wizard) -> None:
    wizard.get_by_role("button", name="Next").click()


def open_palette_item(page, label: str) -> None:
    """Run the command palette's item `label`. The palette is opened again when something took
    it away before it was used (seen with the sidebar panels restoring)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    search = page.locator(".lm-CommandPalette-input")
    item = page.locator(".lm-CommandPalette-item", has_text=label)
    for attempt in range(3):
        page.evaluate("""() => window.jupyterapp.commands.execute(
            'apputils:activate-command-palette')""")
        try:
            search.fill(label[:26], timeout=5_000)
            item.wait_for(state="visible", timeout=5_000)
            # Enter runs the palette's active item (the first match): a click was seen landing
            # on an item the palette was re-rendering ("detached", "not stable").
            search.press("Enter", timeout=5_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"the command palette did not offer {label!r}")


def toolbar_button(page):
    """The wizard's button on the shown notebook's toolbar (a notebook restored from an earlier
    test's workspace has one too, in a hidden tab)."""
    panel = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    return page.locator(f"[id='{panel}'] .jp-NotebookPanel-toolbar .eopde-ToolbarButton")


def test_wizard_steps_1_to_4_on_the_ndvi_notebook(platform, wizard_user):
    eopde_calls: list[tuple[str, str, int]] = []
    with browser_page(ARTIFACTS, "wizard-last") as page:
        # the wizard's calls (not the catalogue and jobs panels', not the kernel's logo)
        page.on("response", lambda r: eopde_calls.append((r.request.method, r.url, r.status))
                if re.search(r"/user/[^/]+/eopde/(?!catalogue/|jobs)", r.url) else None)
        open_fresh(page, platform, wizard_user)

        # the command is in the palette and the file browser's menu; the toolbar button opens it
        assert page.evaluate("() => window.jupyterapp.commands.hasCommand('eopde:open-wizard')")
        wizard = open_wizard(page)
        wizard.locator(".eopde-Parameter").first.wait_for(timeout=60_000)

        # 1. Parameters: the three of the notebook, the scene marked as an EO input
        names = wizard.locator(".eopde-Parameter legend code").all_inner_texts()
        assert names == ["scene", "cloud_mask", "nodata"]
        scene = wizard.locator("[data-parameter=scene]")
        assert scene.locator(".eopde-eo").inner_text() == "EO input: STAC item"
        assert wizard.locator("[data-parameter=nodata] .eopde-where").inner_text() == \
            "cell 1, line 5"
        unlabelled = page.evaluate("""() => [...document.querySelectorAll(
            '.eopde-Wizard input, .eopde-Wizard textarea')].filter(e => !e.labels.length)
            .map(e => e.id)""")
        assert unlabelled == []
        shot(page, "1-parameters")

        # a bad type: the library's message, on the field, with the cell and the line
        wizard.get_by_label("Type of nodata").fill("integr")
        error = wizard.locator("[data-field='parameters.nodata.type'] .eopde-field-error")
        error.wait_for(timeout=30_000)
        text = error.inner_text()
        assert text.startswith("cell 1, line 5 `nodata: integr = -9999.0")
        assert "the annotation `integr` is not a parameter type" in text
        assert wizard.get_by_label("Type of nodata").get_attribute("aria-invalid") == "true"
        shot(page, "1-bad-type")
        wizard.get_by_label("Type of nodata").fill("")
        error.wait_for(state="detached", timeout=30_000)

        # 2. Metadata (reached by keyboard)
        wizard.get_by_role("button", name="Next").focus()
        page.keyboard.press("Enter")
        wizard.get_by_label("Application id").fill("NDVI S2")
        wizard.get_by_label("Version").fill("1.0.0")
        wizard.get_by_label('Author ("Given Family <email>")').fill(
            "Ada Lovelace <ada@example.org>")
        wizard.get_by_label("Affiliation").fill("Analytical Engines Ltd")
        wizard.get_by_label("Keywords (comma-separated)").fill("NDVI, Sentinel-2")
        shot(page, "2-metadata")

        # 3. Runtime
        next_step(wizard)
        wizard.get_by_label("CPU cores").fill("2")
        wizard.get_by_label("RAM (MiB)").fill("4096")
        shot(page, "3-runtime")

        # 4. Review: the library refuses the id; the way back leads to the field
        next_step(wizard)
        refused = wizard.locator(".eopde-Review-errors li")
        refused.wait_for(timeout=60_000)
        assert refused.inner_text().startswith("application id 'NDVI S2': use lowercase letters")
        refused.get_by_role("button", name="Fix it in step 2").click()
        id_error = wizard.locator("[data-field='metadata.id'] .eopde-field-error")
        assert id_error.inner_text().startswith("application id 'NDVI S2'")
        shot(page, "2-metadata-refused-id")
        wizard.get_by_label("Application id").fill("ndvi-s2")
        assert id_error.count() == 0
        wizard.get_by_role("button", name="4. Review").click()

        # CWL and process description side by side, findings inline
        cwl = wizard.locator(".eopde-cwl")
        cwl.wait_for(timeout=60_000)
        cwl_text = cwl.inner_text()
        assert "id: ndvi-s2\n" in cwl_text
        assert re.search(r"coresMin: 2\n\s+coresMax: 2\n\s+ramMin: 4096", cwl_text)
        process = json.loads(wizard.locator(".eopde-process").inner_text())
        assert process["id"] == "ndvi-s2"
        assert process["keywords"] == ["NDVI", "Sentinel-2"]
        assert sorted(process["inputs"]) == ["cloud_mask", "nodata", "scene"]
        assert wizard.locator(".eopde-valid").inner_text() == \
            "Valid: ndvi-s2 1.0.0, image localhost/eopde/ndvi-s2:1.0.0."
        rules = wizard.locator(".eopde-finding").all_inner_texts()
        assert all(re.search(r"\[[a-z0-9/:-]+\]", r) for r in rules)
        disabled = wizard.locator(".eopde-Wizard-steps button[disabled]").all_inner_texts()
        assert disabled == []
        shot(page, "4-review")

        # a field changed elsewhere: the review is generated again
        wizard.get_by_role("button", name="2. Metadata").click()
        wizard.get_by_label("Version").fill("1.1.0")
        wizard.get_by_role("button", name="4. Review").click()
        page.wait_for_function("""() => (document.querySelector('.eopde-cwl') || {})
            .innerText?.includes('s:softwareVersion: 1.1.0')""", timeout=60_000)

        # the choices are in the notebook's metadata, under the one key `eopde`
        kept = page.evaluate("""() => window.jupyterapp.shell.widgets('main')
            .find(w => w.context && w.context.path.endsWith('ndvi.ipynb'))
            .model.getMetadata('eopde')""")
        assert kept["step"] == 3
        assert kept["metadata"]["id"] == "ndvi-s2" and kept["metadata"]["version"] == "1.1.0"
        assert kept["runtime"] == {"image": "", "cores": "2", "ram": "4096"}
        assert kept["parameters"]["nodata"]["type"] == ""

        # closed; the parameters cell gains a parameter; opened again from the file browser's
        # menu: it resumes where it was and says the cell changed
        page.evaluate("""async () => {
            const shell = window.jupyterapp.shell;
            shell.widgets('main').find(w => w.node.querySelector('.eopde-Wizard')).dispose();
            const panel = shell.widgets('main').find(
                w => w.context && w.context.path.endsWith('ndvi.ipynb'));
            const cell = panel.model.cells.get(1).sharedModel;
            cell.setSource(cell.getSource() + '\\nbuffer_m: int = 30  # Buffer, in metres');
            await panel.context.save();
        }""")
        page.locator(".jp-DirListing-item[data-file-type=notebook]",
                     has_text="ndvi.ipynb").click(button="right")
        page.locator(".lm-Menu-item", has_text="Package as an Application").click()
        wizard.locator(".eopde-cwl").wait_for(timeout=60_000)
        assert wizard.locator("#eopde-step-title").inner_text() == "4. Review"
        notice = wizard.locator(".eopde-notice")
        assert notice.inner_text().startswith(
            "The notebook’s parameters cell changed since you last used the wizard.")
        page.wait_for_function("""() => (document.querySelector('.eopde-cwl') || {})
            .innerText?.includes('buffer_m:')""", timeout=60_000)
        assert "s:softwareVersion: 1.1.0" in wizard.locator(".eopde-cwl").inner_text()
        shot(page, "5-resumed")
        notice.get_by_role("button", name="Detect again without my edits").click()
        notice.wait_for(state="detached", timeout=30_000)

    # every call went through the hub's proxy, under the user's prefix
    prefix = f"{platform.hub_url}/user/{wizard_user}/eopde/"
    assert eopde_calls and all(url.startswith(prefix) for _, url, _ in eopde_calls)
    assert {(m, url[len(prefix):].split("?")[0]) for m, url, _ in eopde_calls} == {
        ("GET", "version"), ("POST", "parameters"), ("POST", "package")}
    refused = [(m, url[len(prefix):].split("?")[0], status)
               for m, url, status in eopde_calls if status != 200]
    assert refused == [("POST", "package", 422)]  # the id "NDVI S2"


APP_ID = "ndvi-wizard"


@pytest.fixture
def resumed(platform, wizard_user) -> Iterator[str]:
    """The NDVI notebook with the wizard's choices of steps 1-4 in its metadata (as the test
    above leaves them), so that steps 5-9 start at once; the process undeployed afterwards."""
    copy = platform.settings().users_dir / USER / NOTEBOOK
    nb = json.loads(copy.read_text())
    nb["metadata"]["eopde"] = {
        "step": 3, "digest": None, "parameters": {},
        "metadata": {"id": APP_ID, "version": "1.0.0", "author": "Ada Lovelace <ada@example.org>",
                     "affiliation": "Analytical Engines Ltd", "license": "Apache-2.0"},
        "runtime": {"image": "", "cores": "1", "ram": "2048"}}
    copy.write_text(json.dumps(nb))
    yield wizard_user
    token = platform.eopde("token", USER).stdout.strip()
    import httpx

    httpx.delete(f"{platform.url('ades')}/{USER}/ogc-api/processes/{APP_ID}",
                 headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_wizard_steps_5_to_9_to_a_job_and_published_results(platform, resumed, request):
    # Other tests search the shared platform's whole catalogue: what step 9 publishes goes again.
    token = platform.eopde("token", USER).stdout.strip()
    request.addfinalizer(lambda: drop_collections(platform.url("catalogue"),
                                                  {token: [f"ws-{USER}"]}))
    with browser_page(ARTIFACTS, "wizard-last-5-9") as page:
        open_fresh(page, platform, resumed)
        wizard = open_wizard(page)
        wizard.locator(".eopde-cwl").wait_for(timeout=60_000)  # resumed at the Review

        # no ADES configured (the hub always configures its own: the answer is replaced here)
        page.route("**/eopde/ades*", lambda route: route.fulfill(
            status=200, content_type="application/json",
            body='{"endpoints": [], "default": null}'))
        wizard.get_by_role("button", name="6. Deploy").click()
        empty = wizard.locator(".eopde-empty")
        empty.wait_for(timeout=30_000)
        assert empty.inner_text().startswith("No ADES is configured.")
        assert wizard.locator("#eopde-ades").count() == 0
        shot(page, "6-deploy-no-ades")
        page.unroute("**/eopde/ades*")

        # 5. Test run: an item picked from a catalogue search, run locally, its log, its items
        wizard.get_by_role("button", name="5. Test run").click()
        wizard.get_by_role("button", name="Pick a STAC item for scene…").click()
        wizard.get_by_role("button", name="Search the catalogue").click()
        picker = wizard.locator(".eopde-Picker")
        picker.locator(".eopde-items button").first.wait_for(timeout=60_000)
        found = picker.locator(".eopde-items tbody tr").count()
        footprints = picker.locator(".eopde-WizardMap path.leaflet-interactive")
        expect(footprints).to_have_count(found)
        # an area drawn on the map fills the Area field (its keyboard twin)
        picker.get_by_role("button", name="Draw the area on the map").click()
        box = picker.locator(".eopde-WizardMap").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=4)
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7, steps=4)
        page.mouse.up()
        area = picker.get_by_label("Area (west, south, east, north)").input_value()
        assert re.fullmatch(r"-?\d+\.\d{4}(, -?\d+\.\d{4}){3}", area), area
        unlabelled = page.evaluate("""() => [...document.querySelectorAll(
            '.eopde-Wizard input, .eopde-Wizard textarea, .eopde-Wizard select')]
            .filter(e => !e.labels.length).map(e => e.id)""")
        assert unlabelled == []
        shot(page, "5-item-picker")
        picker.locator(".eopde-items button").first.click()
        scene = wizard.locator("#eopde-inputs-scene")
        assert "/collections/sentinel-2-l2a/items/" in scene.input_value()
        assert scene.evaluate("e => e.labels[0].textContent").endswith("(scene)")
        assert wizard.locator("#eopde-inputs-cloud_mask").input_value() == "true"
        wizard.get_by_role("button", name="Start the test run").click()
        done = wizard.locator(".eopde-run-status[data-status]:not([data-status=running])")
        done.wait_for(timeout=300_000)
        assert done.get_attribute("data-status") == "successful", \
            wizard.locator(".eopde-TestRun").inner_text()[-3000:]
        assert wizard.locator(".eopde-TestRun .eopde-items tbody tr").count() == 1
        expect(wizard.locator(".eopde-TestRun .eopde-WizardMap path.leaflet-interactive")) \
            .to_have_count(1)
        assert "Final process status is success" in wizard.locator(".eopde-run-log").inner_text()
        shot(page, "5-test-run")

        # 6. Deploy on the platform's ADES, then a new version: what changes, then replace
        wizard.get_by_role("button", name="6. Deploy").click()
        expect(wizard.get_by_label("ADES")).to_have_value("local", timeout=30_000)
        wizard.get_by_role("button", name=f"Deploy {APP_ID} 1.0.0").click()
        wizard.get_by_text(f"Deployed {APP_ID} 1.0.0 on local.").wait_for(timeout=120_000)
        wizard.get_by_role("button", name="2. Metadata").click()
        wizard.get_by_label("Version").fill("1.0.1")
        wizard.get_by_role("button", name="6. Deploy").click()
        changes = wizard.locator(".eopde-changes")
        changes.wait_for(timeout=120_000)
        assert changes.locator("li").all_inner_texts() == ["version 1.0.0 → 1.0.1"]
        assert "+s:softwareVersion: 1.0.1" in changes.locator(".eopde-diff").inner_text()
        shot(page, "6-deploy-changes")
        changes.get_by_role("button", name=f"Replace the deployed {APP_ID}").click()
        wizard.get_by_text(f"Deployed {APP_ID} 1.0.1 on local.").wait_for(timeout=120_000)

        # 7. Execute: the form from the deployed description keeps the test run's inputs
        next_step(wizard)
        execute = wizard.get_by_role("button", name=f"Execute {APP_ID}")
        execute.wait_for(timeout=60_000)
        assert "/items/" in wizard.locator("#eopde-inputs-scene").input_value()
        shot(page, "7-execute")
        execute.click()

        # 8. Monitor: to the end, per-step logs, the result items
        status = wizard.locator(".eopde-job-status")
        status.wait_for(timeout=60_000)
        page.wait_for_function("""() => ['successful', 'failed', 'dismissed'].includes(
            document.querySelector('.eopde-job-status')?.dataset.status)""", timeout=300_000)
        assert status.get_attribute("data-status") == "successful", status.inner_text()
        # a job started here is notified when it ends, the jobs panel never opened
        job_id = wizard.locator(".eopde-Monitor p code").first.inner_text()
        page.locator(".Toastify__toast", has_text=f"{job_id[:8]} successful").wait_for(
            timeout=30_000)
        assert not page.locator("#eopde-jobs").is_visible()
        wizard.locator(".eopde-Monitor .eopde-items tbody tr").first.wait_for(timeout=60_000)
        assert wizard.locator(".eopde-Monitor .eopde-items tbody tr").count() == 1
        expect(wizard.locator(".eopde-Monitor .eopde-WizardMap path.leaflet-interactive")) \
            .to_have_count(1)
        wizard.locator(".eopde-steplog summary").first.click()
        assert wizard.locator(".eopde-steplog pre").first.inner_text().strip()
        shot(page, "8-monitor")

        # 9. Publish to the workspace
        next_step(wizard)
        wizard.get_by_role("button", name="Publish to my workspace").click()
        published = wizard.locator(".eopde-published")
        published.wait_for(timeout=120_000)
        assert published.inner_text().startswith(f"Published to ws-{USER}: 1 item(s)")
        assert wizard.locator(".eopde-Publish figcaption").inner_text().startswith(
            f"Published to ws-{USER}")
        expect(wizard.locator(".eopde-Publish .eopde-WizardMap path.leaflet-interactive")) \
            .to_have_count(1)
        shot(page, "9-publish")
        kept = page.evaluate("""() => window.jupyterapp.shell.widgets('main')
            .find(w => w.context && w.context.path.endsWith('ndvi.ipynb'))
            .model.getMetadata('eopde')""")
        assert (kept["step"], kept["ades"], kept["process"]) == (8, "local", APP_ID)
        assert kept["job"] and "/items/" in kept["inputs"]["scene"]


@pytest.mark.parametrize("answer, message", [
    ({"status": 200, "body": '{"version": "0.0.9", "api": 1}'},
     "The eopde JupyterLab extension (0.1.0) and the eopde server extension (0.0.9) differ"),
    ({"status": 404, "body": "Not Found"},
     "The eopde server extension is not running in this Jupyter server"),
])
def test_a_server_extension_of_another_version_gives_one_clear_message(platform, wizard_user,
                                                                       answer, message):
    """What a front end talking to another server extension shows (the server's answer is
    replaced in the browser: both versions cannot be installed at once)."""
    name = "version-mismatch" if answer["status"] == 200 else "server-extension-missing"
    with browser_page(ARTIFACTS, f"wizard-{name}") as page:
        page.route("**/eopde/version*", lambda route: route.fulfill(
            status=answer["status"], content_type="application/json", body=answer["body"]))
        open_fresh(page, platform, wizard_user)
        toolbar_button(page).click()
        blocked = page.locator(".eopde-Wizard-blocked")
        blocked.wait_for(timeout=30_000)
        assert blocked.get_attribute("role") == "alert"
        assert blocked.inner_text().startswith(message)
        assert page.locator(".eopde-Wizard .eopde-Parameter, .eopde-Wizard input").count() == 0


def test_the_toolbar_button_follows_its_setting(platform, wizard_user):
    """showToolbarButton off: no button on notebooks; the command palette still opens it."""
    save = "raw => window.jupyterapp.serviceManager.settings.save('eopde:plugin', raw)"
    with browser_page(ARTIFACTS, "wizard-no-toolbar-button") as page:
        open_fresh(page, platform, wizard_user)
        assert toolbar_button(page).is_visible()
        page.evaluate(save, '{"showToolbarButton": false}')
        try:
            open_notebook(page, platform.hub_url, wizard_user, NOTEBOOK)
            button = toolbar_button(page)
            assert button.count() == 1 and not button.is_visible()
            # (after JupyterLab's second opening of the URL's notebook, which would bring the
            # wizard forward again: only the palette's hand-back of the focus is in play)
            url_opened(page)
            open_palette_item(page, "Package Notebook as an OGC Application")
            page.locator(".eopde-Wizard .eopde-Parameter").first.wait_for(timeout=60_000)
            expect(page.locator(".eopde-Wizard")).to_be_visible()
            assert page.evaluate("() => window.jupyterapp.shell.currentWidget.title.label") \
                == "Package ndvi.ipynb"
        finally:
            page.evaluate(save, "{}")


def test_a_tab_picked_right_after_opening_the_wizard_stays_in_front(platform, wizard_user):
    """The user opens the wizard and at once goes back to the notebook's tab: that tab stays in
    front (the wizard once activated itself again 100 ms after opening, against the command
    palette's hand-back of the focus, which cannot cover it: extension/src/index.ts)."""
    with browser_page(ARTIFACTS, "wizard-tab-picked") as page:
        open_fresh(page, platform, wizard_user)
        url_opened(page)  # (JupyterLab's own second opening of the URL's notebook is over)
        notebook = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
        # the tab picked in the task that saw the wizard open: no user is faster than that
        picked = page.evaluate("""async id => { const app = window.jupyterapp;
            await app.commands.execute('eopde:open-wizard');
            app.shell.activateById(id);
            return performance.now(); }""", notebook)
        wizard = page.locator(".eopde-Wizard")
        wizard.locator(".eopde-Parameter").first.wait_for(state="attached", timeout=60_000)
        # what is checked is that nothing happens later: bounded by the page's own clock, well
        # past the 100 ms after which the wizard once brought itself forward again
        page.wait_for_function("t => performance.now() - t > 2000", arg=picked,
                               timeout=30_000)
        assert page.evaluate("() => window.jupyterapp.shell.currentWidget.id") == notebook
        expect(wizard).to_be_hidden()
