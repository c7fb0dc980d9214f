// Mail-client autoconfiguration: Thunderbird's config-v1.1.xml, Outlook's POX autodiscover and an Apple
// .mobileconfig profile. Server names and ports come from the configuration; no password is ever included.
import crypto from 'node:crypto';
import type { Ports } from './index.js';

export interface MailEndpoints {
  readonly hostname: string;
  readonly ports: Ports;
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/** Thunderbird autoconfig (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat). */
export function thunderbirdConfig(domain: string, endpoints: MailEndpoints): string {
  const host = xmlEscape(endpoints.hostname);
  const p = endpoints.ports;
  const server = (tag: string, type: string, port: number, socket: 'SSL' | 'STARTTLS'): string =>
    port > 0
      ? `    <${tag} type="${type}">
      <hostname>${host}</hostname>
      <port>${port}</port>
      <socketType>${socket}</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </${tag}>
`
      : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="${xmlEscape(domain)}">
    <domain>${xmlEscape(domain)}</domain>
    <displayName>Sealpost (${xmlEscape(domain)})</displayName>
    <displayShortName>Sealpost</displayShortName>
${server('incomingServer', 'imap', p.imaps, 'SSL')}${server('incomingServer', 'imap', p.imap, 'STARTTLS')}${server('incomingServer', 'pop3', p.pop3s, 'SSL')}${server('incomingServer', 'pop3', p.pop3, 'STARTTLS')}${server('outgoingServer', 'smtp', p.submissions, 'SSL')}${server('outgoingServer', 'smtp', p.submission, 'STARTTLS')}  </emailProvider>
</clientConfig>
`;
}

/** The EMailAddress of an Outlook autodiscover request body, or null. */
export function autodiscoverAddress(body: string): string | null {
  const match = /<EMailAddress>\s*([^<\s]{1,320})\s*<\/EMailAddress>/i.exec(body);
  return match ? (match[1] as string) : null;
}

/** Outlook "POX" autodiscover response (schema 2006a), IMAP + SMTP. */
export function outlookAutodiscover(address: string, endpoints: MailEndpoints): string {
  const host = xmlEscape(endpoints.hostname);
  const user = xmlEscape(address);
  const p = endpoints.ports;
  const protocol = (type: string, port: number, ssl: boolean, encryption: string): string =>
    port > 0
      ? `      <Protocol>
        <Type>${type}</Type>
        <Server>${host}</Server>
        <Port>${port}</Port>
        <LoginName>${user}</LoginName>
        <DomainRequired>off</DomainRequired>
        <SPA>off</SPA>
        <SSL>${ssl ? 'on' : 'off'}</SSL>
        <Encryption>${encryption}</Encryption>
        <AuthRequired>on</AuthRequired>
      </Protocol>
`
      : '';
  const imap = p.imaps > 0 ? protocol('IMAP', p.imaps, true, 'SSL') : protocol('IMAP', p.imap, true, 'TLS');
  const smtp = p.submissions > 0 ? protocol('SMTP', p.submissions, true, 'SSL') : protocol('SMTP', p.submission, true, 'TLS');
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
${imap}${smtp}    </Account>
  </Response>
</Autodiscover>
`;
}

/**
 * An Apple configuration profile with one mail account (IMAP over TLS, SMTP submission); the device asks for the
 * password, unless one (an app password made for this device) is given to put in the profile.
 */
export function appleMobileconfig(address: string, endpoints: MailEndpoints, profileId: string, password?: string): string {
  const host = xmlEscape(endpoints.hostname);
  // With a password (a fresh app password), the device needs no typing; without one, Mail asks for it.
  const secret = password === undefined ? '' : `
      <key>IncomingPassword</key><string>${xmlEscape(password)}</string>
      <key>OutgoingPassword</key><string>${xmlEscape(password)}</string>`;
  const user = xmlEscape(address);
  const p = endpoints.ports;
  const imapSsl = p.imaps > 0;
  const smtpPort = p.submission > 0 ? p.submission : p.submissions;
  const uuid = (seed: string): string => {
    const h = crypto.createHash('sha256').update(`${profileId}:${seed}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`.toUpperCase();
  };
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key><string>${user}</string>
      <key>EmailAccountName</key><string>${user}</string>
      <key>EmailAccountType</key><string>EmailTypeIMAP</string>
      <key>EmailAddress</key><string>${user}</string>
      <key>IncomingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>IncomingMailServerHostName</key><string>${host}</string>
      <key>IncomingMailServerPortNumber</key><integer>${imapSsl ? p.imaps : p.imap}</integer>
      <key>IncomingMailServerUseSSL</key>${imapSsl || p.imap > 0 ? '<true/>' : '<false/>'}
      <key>IncomingMailServerUsername</key><string>${user}</string>${secret}
      <key>OutgoingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>OutgoingMailServerHostName</key><string>${host}</string>
      <key>OutgoingMailServerPortNumber</key><integer>${smtpPort}</integer>
      <key>OutgoingMailServerUseSSL</key><true/>
      <key>OutgoingMailServerUsername</key><string>${user}</string>
      <key>OutgoingPasswordSameAsIncomingPassword</key><true/>
      <key>PayloadDisplayName</key><string>Mail (${user})</string>
      <key>PayloadIdentifier</key><string>org.sealpost.mail.${uuid('mail')}</string>
      <key>PayloadType</key><string>com.apple.mail.managed</string>
      <key>PayloadUUID</key><string>${uuid('mail')}</string>
      <key>PayloadVersion</key><integer>1</integer>
    </dict>
  </array>
  <key>PayloadDisplayName</key><string>Sealpost mail: ${user}</string>
  <key>PayloadIdentifier</key><string>org.sealpost.profile.${uuid('profile')}</string>
  <key>PayloadRemovalDisallowed</key><false/>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>${uuid('profile')}</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
`;
}
