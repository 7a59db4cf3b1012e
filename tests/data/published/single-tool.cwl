cwlVersion: v1.2
class: CommandLineTool
id: cog-convert
label: Convert to COG
doc: Converts a GeoTIFF into a Cloud Optimised GeoTIFF
s:softwareVersion: 1.2.0
s:author:
  - class: s:Person
    s:name: Finn Raster
    s:email: finn@example.org
requirements:
  DockerRequirement:
    dockerPull: docker.io/osgeo/gdal:ubuntu-small-3.8.0
baseCommand: [gdal_translate, -of, COG]
inputs:
  source:
    label: source raster
    doc: GeoTIFF to convert
    type: File
    format: iana:image/tiff
    inputBinding:
      position: 1
  compression:
    label: compression
    doc: COG compression
    type: string
    default: DEFLATE
    inputBinding:
      prefix: -co
      valueFrom: COMPRESS=$(self)
      position: 0
arguments:
  - valueFrom: out.tif
    position: 2
outputs:
  cog:
    type: File
    format: iana:image/tiff
    outputBinding:
      glob: out.tif
$namespaces:
  s: https://schema.org/
  iana: https://www.iana.org/assignments/media-types/
