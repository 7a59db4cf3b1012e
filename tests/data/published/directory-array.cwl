cwlVersion: v1.0
$namespaces:
  s: https://schema.org/
s:softwareVersion: 1.4.0
s:name: water-mask
s:author:
  - class: s:Person
    s:name: Gus Lake
    s:email: gus@example.org
$graph:
  - class: Workflow
    id: water-mask
    label: Water mask
    doc: Water mask of each staged Sentinel-2 scene, then one catalog of them
    requirements:
      - class: ScatterFeatureRequirement
    inputs:
      scenes:
        label: scenes
        doc: staged Sentinel-2 scenes
        type: Directory[]
      bands:
        label: bands
        doc: green and NIR bands
        type:
          type: array
          items: string
        default: [B03, B08]
    outputs:
      - id: masks
        type: Directory[]
        outputSource:
          - mask/out
      - id: catalog
        type: Directory
        outputSource:
          - collect/out
    steps:
      mask:
        run: "#mask-tool"
        in:
          scene: scenes
          bands: bands
        out: [out]
        scatter: scene
        scatterMethod: dotproduct
      collect:
        run: "#collect-tool"
        in:
          masks: mask/out
        out: [out]
  - class: CommandLineTool
    id: mask-tool
    baseCommand: water-mask
    hints:
      DockerRequirement:
        dockerPull: ghcr.io/example-org/water-mask:1.4.0
    requirements:
      ResourceRequirement:
        ramMax: 2048
    inputs:
      scene:
        type: Directory
        inputBinding: {prefix: --scene}
      bands:
        type: string[]
        inputBinding: {prefix: --band}
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
  - class: CommandLineTool
    id: collect-tool
    baseCommand: stac-collect
    hints:
      DockerRequirement:
        dockerPull: ghcr.io/example-org/water-mask:1.4.0
    requirements:
      ResourceRequirement:
        coresMin: 1
    inputs:
      masks:
        type: Directory[]
        inputBinding: {prefix: --mask}
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
