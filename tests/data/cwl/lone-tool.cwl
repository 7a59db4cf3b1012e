cwlVersion: v1.0
class: CommandLineTool
id: nb-ndvi
requirements:
  DockerRequirement: {dockerPull: "example/ndvi:0.1"}
baseCommand: [python, ndvi.py]
inputs:
  item:
    type: Directory
    inputBinding: {prefix: --item}
  threshold:
    type: float
    inputBinding: {prefix: --threshold}
outputs:
  results:
    type: Directory
    outputBinding: {glob: .}
