cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 1.1.0
$graph:
  - class: Workflow
    id: water-bodies-cloud-native
    label: Water bodies detection (cloud native)
    doc: Reads the Sentinel-2 COGs of the given STAC items remotely, without stage-in
    requirements:
      ScatterFeatureRequirement: {}
      ResourceRequirement: {coresMin: 1, coresMax: 1, ramMin: 512, ramMax: 1024}
    inputs:
      aoi:
        label: area of interest
        doc: area of interest as a bounding box
        type: string
      stac_items:
        label: Sentinel-2 STAC items
        doc: list of Sentinel-2 COG STAC item URLs
        type: string[]
    outputs:
      - id: stac_catalog
        outputSource: node_detect/stac_catalog
        type: Directory
    steps:
      node_detect:
        run: "#detect"
        in:
          item: stac_items
          aoi: aoi
        out: [stac_catalog]
  - class: CommandLineTool
    id: detect
    requirements:
      DockerRequirement:
        dockerPull: ghcr.io/eoap/mastering-app-package/detect:1.1.0
    baseCommand: ["python", "-m", "app"]
    inputs:
      item:
        type:
          type: array
          items: string
          inputBinding: {prefix: --input-item}
      aoi:
        type: string
        inputBinding: {prefix: --aoi}
    outputs:
      stac_catalog:
        type: Directory
        outputBinding: {glob: .}
