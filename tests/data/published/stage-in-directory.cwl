cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 2.1.0
s:name: burned-area
s:author:
  - class: s:Person
    s:name: Carla Fire
    s:email: carla@example.org
    s:affiliation: Example Wildfire Group
s:contributor:
  - class: s:Person
    s:name: Dan Smoke
s:keywords: [burned area, dNBR]
$graph:
  - class: Workflow
    id: burned-area
    label: Burned area
    doc: Burned area from the dNBR of a pre- and a post-event staged scene
    inputs:
      pre_event:
        label: pre-event scene
        doc: staged pre-event scene (STAC catalog folder)
        type: Directory
      post_event:
        label: post-event scene
        doc: staged post-event scene (STAC catalog folder)
        type: Directory
      aoi:
        label: area of interest
        doc: optional bounding box to crop to
        type: string?
      ndvi_threshold:
        label: NDVI threshold
        doc: pixels with NDVI below this are masked
        type: float?
        default: 0.3
      cloud_mask:
        label: cloud mask
        doc: mask clouds with the scene classification layer
        type: ['null', boolean]
        default: true
    outputs:
      - id: burned
        type: Directory
        outputSource: dnbr/out
    steps:
      dnbr:
        run: "#dnbr-tool"
        in:
          pre_event: pre_event
          post_event: post_event
          aoi: aoi
          ndvi_threshold: ndvi_threshold
          cloud_mask: cloud_mask
        out: [out]
  - class: CommandLineTool
    id: dnbr-tool
    baseCommand: dnbr
    hints:
      DockerRequirement:
        dockerPull: registry.example.org/wildfire/dnbr@sha256:4b4a7bcd1f7a3c7a1e6f4e8ae0b1b6d4d7c5f3e2a1b0c9d8e7f6a5b4c3d2e1f0
    requirements:
      ResourceRequirement:
        coresMin: 1
        coresMax: 2
        ramMin: 2048
        ramMax: 8192
    inputs:
      pre_event:
        type: Directory
        inputBinding: {prefix: --pre}
      post_event:
        type: Directory
        inputBinding: {prefix: --post}
      aoi:
        type: string?
        inputBinding: {prefix: --aoi}
      ndvi_threshold:
        type: float?
        inputBinding: {prefix: --ndvi-threshold}
      cloud_mask:
        type: boolean?
        inputBinding: {prefix: --cloud-mask}
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
