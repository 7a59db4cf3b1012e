cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.9.1
s:author:
  - class: s:Person
    s:name: Eve Index
$graph:
  - class: Workflow
    id: spectral-index
    label: Spectral index
    doc: Computes one spectral index over a staged scene, optionally over a window
    inputs:
      scene:
        label: scene
        doc: staged scene
        type: Directory
      index:
        label: index
        doc: which index to compute
        type:
          type: enum
          symbols: [ndvi, ndwi, nbr]
        default: ndvi
      resampling:
        label: resampling
        doc: resampling method, when the bands differ in resolution
        type:
          - "null"
          - type: enum
            symbols: [nearest, bilinear, cubic]
      window:
        label: window
        doc: pixel window to process
        type:
          - "null"
          - type: record
            fields:
              xoff: int
              yoff: int
              width: int
              height: int
    outputs:
      - id: index_out
        type: Directory
        outputSource: compute/out
    steps:
      compute:
        run: "#index-tool"
        in:
          scene: scene
          index: index
          resampling: resampling
          window: window
        out: [out]
  - class: CommandLineTool
    id: index-tool
    requirements:
      DockerRequirement:
        dockerPull: quay.io/example/spectral-index:0.9.1
    baseCommand: spectral-index
    inputs:
      scene:
        type: Directory
        inputBinding: {prefix: --scene}
      index:
        type:
          type: enum
          symbols: [ndvi, ndwi, nbr]
        inputBinding: {prefix: --index}
      resampling:
        type:
          - "null"
          - type: enum
            symbols: [nearest, bilinear, cubic]
        inputBinding: {prefix: --resampling}
      window:
        type:
          - "null"
          - type: record
            fields:
              xoff: int
              yoff: int
              width: int
              height: int
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
