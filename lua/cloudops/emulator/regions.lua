-- The fixed catalogue of regions the emulator offers (a subset of Temporal Cloud's).
local M = {
  { id = "aws-ap-northeast-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "ap-northeast-1", location = "Tokyo" },
  { id = "aws-ap-south-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "ap-south-1", location = "Mumbai" },
  { id = "aws-ap-southeast-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "ap-southeast-1", location = "Singapore" },
  { id = "aws-ap-southeast-2", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "ap-southeast-2", location = "Sydney" },
  { id = "aws-ca-central-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "ca-central-1", location = "Central Canada" },
  { id = "aws-eu-central-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "eu-central-1", location = "Frankfurt" },
  { id = "aws-eu-west-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "eu-west-1", location = "Ireland" },
  { id = "aws-eu-west-2", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "eu-west-2", location = "London" },
  { id = "aws-sa-east-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "sa-east-1", location = "Sao Paulo" },
  { id = "aws-us-east-1", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "us-east-1", location = "North Virginia" },
  { id = "aws-us-east-2", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "us-east-2", location = "Ohio" },
  { id = "aws-us-west-2", cloud_provider = "CLOUD_PROVIDER_AWS", cloud_provider_region = "us-west-2", location = "Oregon" },
  { id = "gcp-asia-south1", cloud_provider = "CLOUD_PROVIDER_GCP", cloud_provider_region = "asia-south1", location = "Mumbai" },
  { id = "gcp-europe-west3", cloud_provider = "CLOUD_PROVIDER_GCP", cloud_provider_region = "europe-west3", location = "Frankfurt" },
  { id = "gcp-us-central1", cloud_provider = "CLOUD_PROVIDER_GCP", cloud_provider_region = "us-central1", location = "Iowa" },
  { id = "gcp-us-east4", cloud_provider = "CLOUD_PROVIDER_GCP", cloud_provider_region = "us-east4", location = "Northern Virginia" },
  { id = "gcp-us-west1", cloud_provider = "CLOUD_PROVIDER_GCP", cloud_provider_region = "us-west1", location = "Oregon" },
  { id = "azure-eastus", cloud_provider = "CLOUD_PROVIDER_AZURE", cloud_provider_region = "eastus", location = "Virginia" },
  { id = "azure-westeurope", cloud_provider = "CLOUD_PROVIDER_AZURE", cloud_provider_region = "westeurope", location = "Netherlands" },
}

M.by_id = {}
for _, r in ipairs(M) do
  -- The pre-v0.3.0 provider string, as old clients read it.
  r.cloud_provider_deprecated = r.cloud_provider:match("^CLOUD_PROVIDER_(.*)$"):lower()
  M.by_id[r.id] = r
end

return M
