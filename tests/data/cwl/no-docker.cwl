cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.2.0
$graph:
  - class: Workflow
    id: ndvi
    label: NDVI
    doc: NDVI of a staged scene
    inputs:
      scene:
        type: Directory
        label: scene
        doc: staged STAC catalog
    outputs:
      results:
        type: Directory
        outputSource: run/results
    steps:
      run:
        run: '#ndvi-tool'
        in: {scene: scene}
        out: [results]
  - class: CommandLineTool
    id: ndvi-tool
    requirements:
      ResourceRequirement: {coresMin: 1, coresMax: 1, ramMin: 512, ramMax: 1024}
    baseCommand: [python, ndvi.py]
    inputs:
      scene: {type: Directory, inputBinding: {prefix: --scene}}
    outputs:
      results: {type: Directory, outputBinding: {glob: .}}
