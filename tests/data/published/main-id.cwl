cwlVersion: v1.0
$namespaces:
  s: https://schema.org/
s:softwareVersion: 1.0.0
s:author:
  - class: s:Person
    s:name: Bo Tester
    s:email: bo@example.org
$graph:
  - class: Workflow
    id: main
    label: NDVI
    doc: Normalised difference vegetation index of one staged scene
    inputs:
      scene:
        label: scene
        doc: staged Sentinel-2 scene (a folder with catalog.json)
        type: Directory
    outputs:
      - id: ndvi
        type: Directory
        outputSource:
          - run_ndvi/out
    steps:
      run_ndvi:
        run: "#ndvi-tool"
        in:
          scene: scene
        out: [out]
  - class: CommandLineTool
    id: ndvi-tool
    baseCommand: ndvi
    requirements:
      DockerRequirement:
        dockerPull: docker.io/example/ndvi:1.0.0
    inputs:
      scene:
        type: Directory
        inputBinding:
          prefix: --scene
    outputs:
      out:
        type: Directory
        outputBinding:
          glob: .
