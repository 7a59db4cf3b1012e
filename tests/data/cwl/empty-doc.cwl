cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:name: NDVI
s:description: NDVI with an SCL cloud mask over Sentinel-2 L2A scenes
s:softwareVersion: 1.0.0
s:dateCreated: "2026-11-01"
s:license:
  class: s:CreativeWork
  s:url: https://spdx.org/licenses/Apache-2.0
s:codeRepository: https://example.org/ndvi.git
s:softwareHelp:
  class: s:CreativeWork
  s:url: https://example.org/ndvi/README.md
s:publisher:
  class: s:Organization
  s:name: Example EO Lab
s:author:
  - class: s:Person
    s:givenName: Ada
    s:familyName: Lovelace
    s:email: ada@example.org
    s:affiliation:
      class: s:Organization
      s:name: Example EO Lab
$graph:
  - class: Workflow
    id: ndvi
    label: NDVI with cloud mask
    doc: ''
    requirements:
      ResourceRequirement:
        coresMin: 1
        coresMax: 2
        ramMin: 2048
        ramMax: 4096
    inputs:
      scene:
        type: Directory
        label: Sentinel-2 L2A scene
        doc: A staged STAC catalog holding one Sentinel-2 L2A item
      threshold:
        type: float
        default: 0.2
        label: NDVI threshold
        doc: ""
    outputs:
      results:
        type: Directory
        outputSource: run_notebook/results
    steps:
      run_notebook:
        run: '#ndvi-notebook'
        in:
          scene: scene
          threshold: threshold
        out: [results]
  - class: CommandLineTool
    id: ndvi-notebook
    requirements:
      DockerRequirement:
        dockerPull: ghcr.io/example/ndvi:1.0.0@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
      ResourceRequirement:
        coresMin: 1
        coresMax: 2
        ramMin: 2048
        ramMax: 4096
    baseCommand: [papermill, /opt/eopde/app/ndvi.ipynb, out.ipynb]
    inputs:
      scene:
        type: Directory
        inputBinding: {prefix: -p scene, shellQuote: false}
      threshold:
        type: float
        inputBinding: {prefix: -p threshold}
    outputs:
      results:
        type: Directory
        outputBinding: {glob: .}
