// Aggregate reports as real reporters send them, for the report tests: Google-style DMARC (a .zip),
// Microsoft-style DMARC (a .xml.gz), and the TLS report of RFC 8460 §4.7 (application/tlsrpt+gzip),
// each wrapped in the message its reporter sends. Zips are written by Python's zipfile (a real zip writer).
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';

export interface FixtureRow {
  readonly ip: string;
  readonly count: number;
  readonly dkim: 'pass' | 'fail';
  readonly spf: 'pass' | 'fail';
  readonly disposition?: 'none' | 'quarantine' | 'reject';
}

/** Unix seconds of 2026-12-01T00:00:00Z and the day after, the period every fixture covers. */
export const BEGIN = 1796083200;
export const END = BEGIN + 86399;

/** Google's layout: no <version>, extra_contact_info, dkim selector in auth_results. */
export function googleDmarcXml(domain: string, reportId: string, rows: readonly FixtureRow[]): string {
  const records = rows
    .map(
      (r) => `  <record>
    <row>
      <source_ip>${r.ip}</source_ip>
      <count>${r.count}</count>
      <policy_evaluated>
        <disposition>${r.disposition ?? 'none'}</disposition>
        <dkim>${r.dkim}</dkim>
        <spf>${r.spf}</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>${domain}</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>${domain}</domain>
        <result>${r.dkim}</result>
        <selector>sealpost1</selector>
      </dkim>
      <spf>
        <domain>${domain}</domain>
        <result>${r.spf}</result>
      </spf>
    </auth_results>
  </record>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>${reportId}</report_id>
    <date_range>
      <begin>${BEGIN}</begin>
      <end>${END}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>${domain}</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <sp>quarantine</sp>
    <pct>100</pct>
    <np>quarantine</np>
  </policy_published>
${records}
</feedback>
`;
}

/** Microsoft's layout: namespaces, <version>, <fo>, envelope_to and envelope_from in identifiers. */
export function microsoftDmarcXml(domain: string, reportId: string, rows: readonly FixtureRow[]): string {
  const records = rows
    .map(
      (r) => `  <record>
    <row>
      <source_ip>${r.ip}</source_ip>
      <count>${r.count}</count>
      <policy_evaluated>
        <disposition>${r.disposition ?? 'none'}</disposition>
        <dkim>${r.dkim}</dkim>
        <spf>${r.spf}</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>outlook.com</envelope_to>
      <envelope_from>${domain}</envelope_from>
      <header_from>${domain}</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>${domain}</domain>
        <selector>sealpost1</selector>
        <result>${r.dkim}</result>
      </dkim>
      <spf>
        <domain>${domain}</domain>
        <scope>mfrom</scope>
        <result>${r.spf}</result>
      </spf>
    </auth_results>
  </record>`,
    )
    .join('\n');
  return `<?xml version="1.0"?>
<feedback xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <version>1.0</version>
  <report_metadata>
    <org_name>Enterprise Outlook</org_name>
    <email>dmarcreport@microsoft.com</email>
    <report_id>${reportId}</report_id>
    <date_range>
      <begin>${BEGIN}</begin>
      <end>${END}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>${domain}</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <sp>quarantine</sp>
    <pct>100</pct>
    <fo>0</fo>
  </policy_published>
${records}
</feedback>
`;
}

/** The example report of RFC 8460 §4.7, for our domain (one STS policy, successes and two failure kinds). */
export function tlsRptJson(domain: string, reportId: string): string {
  return JSON.stringify(
    {
      'organization-name': 'Company-X',
      'date-range': { 'start-datetime': '2026-12-01T00:00:00Z', 'end-datetime': '2026-12-01T23:59:59Z' },
      'contact-info': 'sts-reporting@company-x.example',
      'report-id': reportId,
      policies: [
        {
          policy: {
            'policy-type': 'sts',
            'policy-string': ['version: STSv1', 'mode: testing', `mx: mx.${domain}`, 'max_age: 86400'],
            'policy-domain': domain,
            'mx-host': [`mx.${domain}`],
          },
          summary: { 'total-successful-session-count': 5326, 'total-failure-session-count': 303 },
          'failure-details': [
            { 'result-type': 'certificate-expired', 'sending-mta-ip': '2001:db8:abcd:0012::1', 'receiving-mx-hostname': `mx.${domain}`, 'failed-session-count': 100 },
            {
              'result-type': 'starttls-not-supported',
              'sending-mta-ip': '2001:db8:abcd:0013::1',
              'receiving-mx-hostname': `mx.${domain}`,
              'receiving-ip': '203.0.113.56',
              'failed-session-count': 200,
              'additional-information': 'https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported',
            },
            { 'result-type': 'validation-failure', 'sending-mta-ip': '198.51.100.62', 'receiving-ip': '203.0.113.58', 'receiving-mx-hostname': `mx.${domain}`, 'failed-session-count': 3, 'failure-reason-code': 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED' },
          ],
        },
      ],
    },
    null,
    2,
  );
}

/** A zip written by Python's zipfile: entries name → content (deflated). */
export function pythonZip(entries: readonly (readonly [string, Buffer | string])[]): Buffer {
  const script = `
import io, json, sys, zipfile, base64
entries = json.loads(sys.stdin.read())
out = io.BytesIO()
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for name, data in entries:
        z.writestr(name, base64.b64decode(data))
sys.stdout.write(base64.b64encode(out.getvalue()).decode())
`;
  const input = JSON.stringify(entries.map(([name, data]) => [name, Buffer.from(data).toString('base64')]));
  const result = spawnSync('python3', ['-c', script], { input, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`python zipfile failed: ${result.stderr.toString()}`);
  return Buffer.from(result.stdout.toString(), 'base64');
}

export const gzip = (data: Buffer | string): Buffer => zlib.gzipSync(Buffer.from(data));

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

export interface ReportAttachment {
  readonly contentType: string;
  readonly filename: string;
  readonly data: Buffer;
}

/** The message a reporter sends: a short text part and the attachment(s), base64 (RFC 7489 §7.2.1.1). */
export function reportMessage(opts: { from: string; to: string; subject: string; attachments: readonly ReportAttachment[]; reportType?: 'tlsrpt'; extraHeaders?: readonly string[] }): Buffer {
  const boundary = `----=_Part_${crypto.randomBytes(8).toString('hex')}`;
  const type = opts.reportType ? `multipart/report; report-type="${opts.reportType}"; boundary="${boundary}"` : `multipart/mixed; boundary="${boundary}"`;
  const headers = [
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    'Date: Wed, 02 Dec 2026 04:12:09 +0000',
    `Message-ID: <${crypto.randomUUID()}@${opts.from.split('@')[1] ?? 'reporter.test'}>`,
    'MIME-Version: 1.0',
    ...(opts.extraHeaders ?? []),
    `Content-Type: ${type}`,
  ];
  const parts = [
    `--${boundary}\r\nContent-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nThis is an aggregate report.\r\n`,
    ...opts.attachments.map(
      (a) =>
        `--${boundary}\r\nContent-Type: ${a.contentType}; name="${a.filename}"\r\nContent-Disposition: attachment; filename="${a.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(a.data)}\r\n`,
    ),
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${parts.join('')}--${boundary}--\r\n`, 'latin1');
}

/** Google's message: a .zip of the XML (application/zip). */
export function googleReportMessage(to: string, domain: string, reportId: string, rows: readonly FixtureRow[]): Buffer {
  const name = `google.com!${domain}!${BEGIN}!${END}`;
  return reportMessage({
    from: 'noreply-dmarc-support@google.com',
    to,
    subject: `Report domain: ${domain} Submitter: google.com Report-ID: ${reportId}`,
    attachments: [{ contentType: 'application/zip', filename: `${name}.zip`, data: pythonZip([[`${name}.xml`, googleDmarcXml(domain, reportId, rows)]]) }],
  });
}

/** Microsoft's message: a .xml.gz of the XML (application/gzip). */
export function microsoftReportMessage(to: string, domain: string, reportId: string, rows: readonly FixtureRow[]): Buffer {
  return reportMessage({
    from: 'dmarcreport@microsoft.com',
    to,
    subject: `Report Domain: ${domain} Submitter: enterprise.protection.outlook.com Report-ID: <${reportId}>`,
    attachments: [{ contentType: 'application/gzip', filename: `enterprise.protection.outlook.com!${domain}!${BEGIN}!${END}.xml.gz`, data: gzip(microsoftDmarcXml(domain, reportId, rows)) }],
  });
}

/** RFC 8460 §5.3: multipart/report; report-type="tlsrpt" with an application/tlsrpt+gzip part. */
export function tlsReportMessage(to: string, domain: string, reportId: string): Buffer {
  return reportMessage({
    from: 'tlsrpt-noreply@company-x.example',
    to,
    subject: `Report Domain: ${domain} Submitter: company-x.example Report-ID: <${reportId}>`,
    reportType: 'tlsrpt',
    extraHeaders: [`TLS-Report-Domain: ${domain}`, 'TLS-Report-Submitter: company-x.example'],
    attachments: [{ contentType: 'application/tlsrpt+gzip', filename: `company-x.example!${domain}!1796083200!1796169599.json.gz`, data: gzip(tlsRptJson(domain, reportId)) }],
  });
}
