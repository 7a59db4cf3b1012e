cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.2.0
s:name: scene-masks
$graph:
  - class: Workflow
    id: scene-masks
    label: Cloud masks per scene
    doc: One cloud mask catalog per staged scene (a Directory[] output), as scattered tools give
    requirements:
      ScatterFeatureRequirement: {}
    inputs:
      scenes:
        label: scenes
        doc: staged Sentinel-2 scenes, one catalog each
        type: Directory[]
      threshold:
        label: threshold
        doc: cloud probability above which a pixel is masked
        type: float
        default: 0.4
    outputs:
      - id: masks
        label: masks
        doc: one STAC catalog per scene
        type: Directory[]
        outputSource:
          - mask/out
    steps:
      mask:
        run: "#mask-tool"
        in:
          scene: scenes
          threshold: threshold
        out: [out]
        scatter: scene
        scatterMethod: dotproduct
  - class: CommandLineTool
    id: mask-tool
    hints:
      DockerRequirement:
        dockerPull: ghcr.io/example-org/scene-masks:0.2.0
    requirements:
      ResourceRequirement:
        coresMax: 1
      InitialWorkDirRequirement:
        listing:
          - entryname: mask.py
            entry: |
              import os, sys
              import pystac
              scene, threshold = sys.argv[1], float(sys.argv[2])
              src = next(pystac.Catalog.from_file(os.path.join(scene, "catalog.json")).get_items(recursive=True))
              os.makedirs("mask", exist_ok=True)
              with open("mask/mask.txt", "w") as f:
                  f.write(f"{src.id} {threshold}\n")
              out = pystac.Catalog(id=f"{src.id}-masks", description="cloud mask")
              item = pystac.Item(id=f"{src.id}-mask", geometry=src.geometry, bbox=src.bbox,
                                 datetime=src.datetime, properties={"mask:threshold": threshold})
              item.add_asset("mask", pystac.Asset(href=os.path.abspath("mask/mask.txt"),
                                                  media_type="text/plain"))
              out.add_item(item)
              out.normalize_hrefs(os.path.abspath("."))
              out.make_all_asset_hrefs_relative()
              out.save(pystac.CatalogType.SELF_CONTAINED)
    baseCommand: [python, mask.py]
    inputs:
      scene:
        type: Directory
        inputBinding: {position: 1}
      threshold:
        type: float
        inputBinding: {position: 2}
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
