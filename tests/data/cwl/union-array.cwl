cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 2.0.0
$graph:
  - class: Workflow
    id: mosaic
    label: Mosaic
    doc: Mosaics one or several staged scenes
    requirements:
      SchemaDefRequirement:
        types:
          - name: "#Resampling"
            type: enum
            symbols: [nearest, bilinear, cubic]
          - name: "#Window"
            type: record
            fields:
              size: int
              overlap: int
    inputs:
      - id: scenes
        label: scenes
        doc: one staged STAC catalog, or several
        type:
          - "null"
          - Directory
          - type: array
            items: Directory
      - id: bands
        label: bands
        doc: band names
        type: ["null", {type: array, items: string}]
      - id: resampling
        label: resampling
        doc: resampling method
        type: "#Resampling"
      - id: window
        label: window
        doc: processing window
        type: "#Window?"
      - id: masks
        label: masks
        doc: mask files
        type: File[]?
    outputs:
      - id: results
        type: Directory
        outputSource: mosaic/results
    steps:
      - id: mosaic
        run:
          class: CommandLineTool
          requirements:
            DockerRequirement: {dockerPull: "example/mosaic:2.0.0@sha256:0000000000000000000000000000000000000000000000000000000000000000"}
            ResourceRequirement: {coresMin: 1, coresMax: 4, ramMin: 1024, ramMax: 8192}
            InlineJavascriptRequirement: {}
          baseCommand: mosaic
          inputs:
            scenes:
              type: ["null", Directory, {type: array, items: Directory}]
            bands: string[]?
            resampling: "#Resampling"
            window: "#Window?"
            masks: File[]?
          outputs:
            results:
              type: Directory
              outputBinding: {glob: .}
        in:
          scenes: scenes
          bands: bands
          resampling: resampling
          window: window
          masks: masks
        out: [results]
