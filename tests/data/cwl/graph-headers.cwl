cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.32.0
$graph:
  - cwlVersion: v1.2
    $namespaces:
      s: https://schema.org/
    class: Workflow
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
  - cwlVersion: v1.2
    class: CommandLineTool
    id: ndvi-tool
    requirements:
      DockerRequirement: {dockerPull: "example/ndvi:1.0"}
      ResourceRequirement: {coresMin: 1, coresMax: 1, ramMin: 512, ramMax: 1024}
    baseCommand: [python, ndvi.py]
    inputs:
      scene: {type: Directory, inputBinding: {prefix: --scene}}
    outputs:
      results: {type: Directory, outputBinding: {glob: .}}
